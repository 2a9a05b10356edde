// Swagger UI over this site's own API document. "Try it out" calls the API from this
// origin, so a signed-in browser's session cookie goes with it.
window.addEventListener("load", () => {
  window.ui = SwaggerUIBundle({
    url: "/api/v1/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    // No badge that sends the document to swagger.io's online validator.
    validatorUrl: "none",
  });
});
