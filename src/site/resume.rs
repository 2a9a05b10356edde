//! `resume.json`: a JSON Resume (schema v1.0.0) document. The typed form checks every
//! field's type, with the line and column of the first one that is wrong; pages render
//! from the document as written, so templates may use fields the schema does not define.

use serde::Deserialize;
use serde_json::{Value, json};

use super::content::ContentError;

/// A JSON Resume document: checked, and kept as written.
#[derive(Debug, Clone)]
pub struct Resume {
    /// The typed reading, for the parts hearth itself uses.
    pub typed: Schema,
    /// The document as written, for templates.
    pub document: Value,
}

impl Resume {
    /// Parses and type-checks `resume.json`'s text; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Resume, ContentError> {
        let located = |e: serde_json::Error| {
            let message = e.to_string();
            let message = message.split(" at line ").next().unwrap_or_default();
            ContentError::at(file, Some((e.line(), e.column())), message)
        };
        let document: Value = serde_json::from_str(text).map_err(located)?;
        if !document.is_object() {
            return Err(ContentError::at(
                file,
                Some((1, 1)),
                "a JSON Resume document is an object ({ ... })",
            ));
        }
        // Parsed again from the text, not the value, so a wrong type has a position.
        let typed: Schema = serde_json::from_str(text).map_err(located)?;
        Ok(Resume { typed, document })
    }

    /// The person's name, if the resume gives one.
    pub fn name(&self) -> Option<&str> {
        self.typed.basics.name.as_deref().filter(|n| !n.is_empty())
    }

    /// schema.org `Person` structured data (JSON-LD) for the resume page.
    pub fn json_ld(&self, page_url: Option<&str>) -> String {
        let b = &self.typed.basics;
        let mut person = json!({"@context": "https://schema.org", "@type": "Person"});
        let mut set = |key: &str, mut value: Value| {
            if let Some(object) = value.as_object_mut() {
                object.retain(|_, v| !v.is_null());
            }
            let empty = value.is_null()
                || value.as_str().is_some_and(str::is_empty)
                || value.as_array().is_some_and(Vec::is_empty);
            if !empty {
                person[key] = value;
            }
        };
        set("name", json!(b.name));
        set("jobTitle", json!(b.label));
        set("description", json!(b.summary));
        set("email", json!(b.email));
        set("telephone", json!(b.phone));
        set("image", json!(b.image));
        set("url", json!(b.url.as_deref().or(page_url)));
        let loc = &b.location;
        if loc.city.is_some() || loc.country_code.is_some() {
            set(
                "address",
                json!({
                    "@type": "PostalAddress",
                    "streetAddress": loc.address,
                    "postalCode": loc.postal_code,
                    "addressLocality": loc.city,
                    "addressRegion": loc.region,
                    "addressCountry": loc.country_code,
                }),
            );
        }
        set(
            "sameAs",
            b.profiles.iter().filter_map(|p| p.url.clone()).collect(),
        );
        let current = self.typed.work.iter().find(|w| w.end_date.is_none());
        if let Some(name) = current.and_then(|w| w.name.as_ref()) {
            set("worksFor", json!({"@type": "Organization", "name": name}));
        }
        set(
            "alumniOf",
            self.typed
                .education
                .iter()
                .filter_map(|e| e.institution.as_ref())
                .map(|name| json!({"@type": "EducationalOrganization", "name": name}))
                .collect(),
        );
        // A skill's name is often a group ("Languages") and its keywords the skills.
        set(
            "knowsAbout",
            self.typed
                .skills
                .iter()
                .flat_map(|s| {
                    if s.keywords.is_empty() {
                        s.name.iter().cloned().collect()
                    } else {
                        s.keywords.clone()
                    }
                })
                .collect(),
        );
        set(
            "knowsLanguage",
            self.typed
                .languages
                .iter()
                .filter_map(|l| l.language.clone())
                .collect(),
        );
        // Inside <script>, "</" would end the element early; JSON allows `<` escaped.
        person.to_string().replace('<', "\\u003c")
    }
}

/// The JSON Resume v1.0.0 schema: every section, every field optional, unknown fields
/// ignored.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct Schema {
    pub basics: Basics,
    pub work: Vec<Work>,
    pub volunteer: Vec<Volunteer>,
    pub education: Vec<Education>,
    pub awards: Vec<Award>,
    pub certificates: Vec<Certificate>,
    pub publications: Vec<Publication>,
    pub skills: Vec<Skill>,
    pub languages: Vec<Language>,
    pub interests: Vec<Interest>,
    pub references: Vec<Reference>,
    pub projects: Vec<Project>,
    pub meta: Meta,
}

/// `basics`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct Basics {
    pub name: Option<String>,
    pub label: Option<String>,
    pub image: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub url: Option<String>,
    pub summary: Option<String>,
    pub location: Location,
    pub profiles: Vec<Profile>,
}

/// `basics.location`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct Location {
    pub address: Option<String>,
    pub postal_code: Option<String>,
    pub city: Option<String>,
    pub country_code: Option<String>,
    pub region: Option<String>,
}

/// `basics.profiles[]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct Profile {
    pub network: Option<String>,
    pub username: Option<String>,
    pub url: Option<String>,
}

/// `work[]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct Work {
    pub name: Option<String>,
    pub location: Option<String>,
    pub description: Option<String>,
    pub position: Option<String>,
    pub url: Option<String>,
    pub start_date: Option<String>,
    pub end_date: Option<String>,
    pub summary: Option<String>,
    pub highlights: Vec<String>,
}

/// `volunteer[]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct Volunteer {
    pub organization: Option<String>,
    pub position: Option<String>,
    pub url: Option<String>,
    pub start_date: Option<String>,
    pub end_date: Option<String>,
    pub summary: Option<String>,
    pub highlights: Vec<String>,
}

/// `education[]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct Education {
    pub institution: Option<String>,
    pub url: Option<String>,
    pub area: Option<String>,
    pub study_type: Option<String>,
    pub start_date: Option<String>,
    pub end_date: Option<String>,
    pub score: Option<String>,
    pub courses: Vec<String>,
}

/// `awards[]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct Award {
    pub title: Option<String>,
    pub date: Option<String>,
    pub awarder: Option<String>,
    pub summary: Option<String>,
}

/// `certificates[]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct Certificate {
    pub name: Option<String>,
    pub date: Option<String>,
    pub url: Option<String>,
    pub issuer: Option<String>,
}

/// `publications[]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct Publication {
    pub name: Option<String>,
    pub publisher: Option<String>,
    pub release_date: Option<String>,
    pub url: Option<String>,
    pub summary: Option<String>,
}

/// `skills[]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct Skill {
    pub name: Option<String>,
    pub level: Option<String>,
    pub keywords: Vec<String>,
}

/// `languages[]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct Language {
    pub language: Option<String>,
    pub fluency: Option<String>,
}

/// `interests[]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct Interest {
    pub name: Option<String>,
    pub keywords: Vec<String>,
}

/// `references[]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct Reference {
    pub name: Option<String>,
    pub reference: Option<String>,
}

/// `projects[]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct Project {
    pub name: Option<String>,
    pub description: Option<String>,
    pub highlights: Vec<String>,
    pub keywords: Vec<String>,
    pub start_date: Option<String>,
    pub end_date: Option<String>,
    pub url: Option<String>,
    pub roles: Vec<String>,
    pub entity: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

/// `meta`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct Meta {
    pub canonical: Option<String>,
    pub version: Option<String>,
    pub last_modified: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_of_the_wrong_type_is_named_with_its_position() {
        let text = "{\n  \"basics\": {\"name\": \"A\"},\n  \"work\": [\n    {\"highlights\": \"one\"}\n  ]\n}";
        let err = Resume::parse("resume.json", text).unwrap_err().to_string();
        assert!(err.starts_with("resume.json:4:"), "{err}");
        assert!(err.contains("expected a sequence"), "{err}");
        let err = Resume::parse("resume.json", "[1]").unwrap_err().to_string();
        assert!(
            err.starts_with("resume.json:1:1: a JSON Resume document is an object"),
            "{err}"
        );
    }

    #[test]
    fn unknown_fields_are_kept_for_templates_and_ignored_by_checks() {
        let r = Resume::parse(
            "r",
            r#"{"basics": {"name": "A", "pronouns": "she/her"}, "x": 1}"#,
        )
        .unwrap();
        assert_eq!(r.name(), Some("A"));
        assert_eq!(r.document["basics"]["pronouns"], "she/her");
    }

    #[test]
    fn json_ld_describes_the_person_and_cannot_end_its_script_element() {
        let r = Resume::parse(
            "r",
            r#"{"basics": {"name": "A </script><b>", "profiles": [{"url": "https://x.example/a"}]},
                "work": [{"name": "Old", "endDate": "2020"}, {"name": "Now"}]}"#,
        )
        .unwrap();
        let ld = r.json_ld(Some("https://a.example/"));
        assert!(!ld.contains("</"), "{ld}");
        let v: Value = serde_json::from_str(&ld).unwrap();
        assert_eq!(v["@type"], "Person");
        assert_eq!(v["name"], "A </script><b>");
        assert_eq!(v["worksFor"]["name"], "Now");
        assert_eq!(v["sameAs"][0], "https://x.example/a");
        assert_eq!(v["url"], "https://a.example/");
        assert!(v.get("jobTitle").is_none());
    }
}
