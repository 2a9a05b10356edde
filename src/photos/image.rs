//! Photo upload processing: identify an upload by its bytes, decode it within
//! limits, and produce the metadata-free files that are served.
//!
//! The pipeline of [`process`] is, in order:
//!
//! 1. the upload size against [`Limits::max_bytes`];
//! 2. the format, from magic numbers only ([`sniff`]), never from a file name;
//! 3. for JPEG, a structural walk that refuses data cut short before its
//!    end-of-image marker (the JPEG decoder would otherwise pad it with grey);
//! 4. the dimensions from the header, refused before any pixel is decoded when
//!    they exceed [`Limits::max_pixels`] or [`Limits::max_side`]
//!    (a decompression-bomb guard), with `image::Limits` also set on the
//!    decoder so that a lying header cannot allocate past [`Limits::max_alloc`];
//! 5. decoding (the first frame of an animated GIF), then the EXIF orientation;
//! 6. the variants: `thumb` (longest side ≤ 400) and `display` (≤ 1600), never
//!    upscaled, as JPEG quality 82, or PNG when the image has real transparency;
//!    and, when asked, `original` at full size, re-encoded (see [`process`]).
//!
//! Every output is a fresh encode of decoded pixels, so none of them carries
//! EXIF, GPS, XMP, IPTC, ICC profiles, comments or trailing data.
//!
//! The work is CPU-bound and synchronous: call it from `spawn_blocking`.

use std::borrow::Cow;
use std::fmt;
use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::{CompressionType, FilterType as PngFilter, PngEncoder};
use image::imageops::FilterType;
use image::metadata::Orientation;
use image::{
    ColorType, DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader, RgbaImage,
};
use sha2::{Digest, Sha256};

/// Longest side of the `thumb` variant, in pixels.
pub const THUMB_MAX_SIDE: u32 = 400;
/// Longest side of the `display` variant, in pixels.
pub const DISPLAY_MAX_SIDE: u32 = 1600;
/// JPEG quality of the `thumb` and `display` variants.
pub const JPEG_QUALITY: u8 = 82;
/// JPEG quality of an `original` variant re-encoded from a lossy source.
pub const ORIGINAL_JPEG_QUALITY: u8 = 92;

/// The resampling filter for both downscales.
const RESIZE_FILTER: FilterType = FilterType::Lanczos3;

/// Limits applied to one upload, checked before the expensive work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest upload accepted, in bytes (default 20 MiB).
    pub max_bytes: u64,
    /// Largest width × height accepted, read from the header before decoding
    /// (default 50 000 000).
    pub max_pixels: u64,
    /// Largest width or height accepted, in pixels (default 12 000).
    pub max_side: u32,
    /// Cap on what the decoder may allocate, in bytes (default 512 MiB).
    pub max_alloc: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bytes: 20 * 1024 * 1024,
            max_pixels: 50_000_000,
            max_side: 12_000,
            max_alloc: 512 * 1024 * 1024,
        }
    }
}

/// An accepted upload format, as identified by [`sniff`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// JPEG (JFIF or EXIF).
    Jpeg,
    /// PNG (an APNG gives its default image).
    Png,
    /// GIF (an animated GIF gives its first frame).
    Gif,
    /// WebP, lossy or lossless (an animated WebP gives its first frame).
    WebP,
}

impl Format {
    /// The MIME type of the format, e.g. `image/jpeg`.
    #[must_use]
    pub fn mime(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::Gif => "image/gif",
            Self::WebP => "image/webp",
        }
    }

    /// The format's usual name, e.g. `JPEG`, for messages.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Jpeg => "JPEG",
            Self::Png => "PNG",
            Self::Gif => "GIF",
            Self::WebP => "WebP",
        }
    }

    fn image_format(self) -> ImageFormat {
        match self {
            Self::Jpeg => ImageFormat::Jpeg,
            Self::Png => ImageFormat::Png,
            Self::Gif => ImageFormat::Gif,
            Self::WebP => ImageFormat::WebP,
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Identifies an accepted format from the first bytes alone (magic numbers).
///
/// Returns `None` for anything else, including formats that are recognised
/// but not accepted (AVIF, HEIC, TIFF…), which [`process`] reports as
/// [`PhotoError::Unsupported`].
#[must_use]
pub fn sniff(bytes: &[u8]) -> Option<Format> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(Format::Jpeg)
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(Format::Png)
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some(Format::Gif)
    } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
        Some(Format::WebP)
    } else {
        None
    }
}

/// Names an image format that is recognised by its bytes but not accepted.
fn sniff_unsupported(bytes: &[u8]) -> Option<&'static str> {
    if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" {
        // ISO base media file: the major brand, then the compatible brands up
        // to the end of the `ftyp` box.
        let box_len = usize::try_from(u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
            .unwrap_or(usize::MAX)
            .clamp(12, bytes.len());
        let brands: Vec<&[u8]> = std::iter::once(&bytes[8..12])
            .chain(bytes.get(16..box_len).unwrap_or_default().chunks_exact(4))
            .collect();
        if brands.iter().any(|b| matches!(*b, b"avif" | b"avis")) {
            return Some("AVIF");
        }
        if brands.iter().any(|b| {
            matches!(
                *b,
                b"heic" | b"heix" | b"hevc" | b"hevx" | b"heim" | b"heis" | b"mif1" | b"msf1"
            )
        }) {
            return Some("HEIC/HEIF");
        }
        return None;
    }
    if bytes.starts_with(&[0xFF, 0x0A]) || bytes.starts_with(b"\0\0\0\x0cJXL \r\n\x87\n") {
        return Some("JPEG XL");
    }
    if bytes.starts_with(b"II*\0") || bytes.starts_with(b"MM\0*") {
        return Some("TIFF (or camera raw)");
    }
    if bytes.len() >= 18
        && bytes.starts_with(b"BM")
        && matches!(
            u32::from_le_bytes([bytes[14], bytes[15], bytes[16], bytes[17]]),
            12 | 40 | 52 | 56 | 64 | 108 | 124
        )
    {
        return Some("BMP");
    }
    if bytes.starts_with(b"8BPS") {
        return Some("Photoshop (PSD)");
    }
    None
}

/// One file to serve.
#[derive(Clone, PartialEq, Eq)]
pub struct Variant {
    /// `"thumb"`, `"display"` or `"original"`.
    pub name: &'static str,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// MIME type of `bytes`: `image/jpeg` or `image/png`.
    pub mime: &'static str,
    /// The encoded file.
    pub bytes: Vec<u8>,
    /// SHA-256 of `bytes`, lowercase hex.
    pub sha256: String,
}

impl Variant {
    fn new(name: &'static str, img: &DynamicImage, encoded: Encoded) -> Self {
        let sha256 = hex(&Sha256::digest(&encoded.bytes));
        Self {
            name,
            width: img.width(),
            height: img.height(),
            mime: encoded.mime,
            bytes: encoded.bytes,
            sha256,
        }
    }
}

impl fmt::Debug for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Variant")
            .field("name", &self.name)
            .field("width", &self.width)
            .field("height", &self.height)
            .field("mime", &self.mime)
            .field("bytes", &format_args!("<{} bytes>", self.bytes.len()))
            .field("sha256", &self.sha256)
            .finish()
    }
}

/// The result of [`process`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Processed {
    /// The format of the upload, judged by its bytes.
    pub format: Format,
    /// Width in pixels, after the EXIF orientation is applied.
    pub width: u32,
    /// Height in pixels, after the EXIF orientation is applied.
    pub height: u32,
    /// `thumb`, `display`, then `original` when it was asked for.
    pub variants: Vec<Variant>,
}

impl Processed {
    /// The variant with this name, if any.
    #[must_use]
    pub fn variant(&self, name: &str) -> Option<&Variant> {
        self.variants.iter().find(|v| v.name == name)
    }

    /// An `<img srcset>` value from the `thumb` and `display` variants, as
    /// `"URL 400w, URL 1600w"`, with `url` giving each variant's address.
    ///
    /// `original` is left out so that a browser never picks a full-size file
    /// for the gallery; a variant whose width repeats a smaller one (a small
    /// upload whose thumb and display are the same size) is listed once.
    pub fn srcset(&self, url: impl Fn(&Variant) -> String) -> String {
        let mut shown: Vec<&Variant> = self
            .variants
            .iter()
            .filter(|v| v.name != "original")
            .collect();
        shown.sort_by_key(|v| v.width);
        shown.dedup_by_key(|v| v.width);
        shown
            .iter()
            .map(|v| format!("{} {}w", url(v), v.width))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Why an upload was refused; [`PhotoError::status`] gives the HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum PhotoError {
    /// The upload is over [`Limits::max_bytes`] (413).
    #[error("the upload is {bytes} bytes, over the limit of {limit} bytes")]
    TooLarge {
        /// Size of the upload.
        bytes: u64,
        /// The limit it exceeds.
        limit: u64,
    },
    /// The bytes are not an image format that is recognised (415).
    #[error("the file is not a JPEG, PNG, GIF or WebP image (judged by its bytes)")]
    NotAnImage,
    /// The bytes are a recognised image format, or variant of one, that
    /// cannot be decoded here (415).
    #[error("{0} is not supported: upload a JPEG, PNG, GIF or WebP image")]
    Unsupported(&'static str),
    /// The data is truncated or invalid; the message names the format (422).
    #[error("{0}")]
    Corrupt(String),
    /// The header declares more pixels, or a longer side, than allowed;
    /// decided before any pixel is decoded (422).
    #[error(
        "the image is {width}x{height} pixels, over the limit of {limit} pixels and {max_side} pixels a side"
    )]
    TooManyPixels {
        /// Declared width.
        width: u32,
        /// Declared height.
        height: u32,
        /// [`Limits::max_pixels`].
        limit: u64,
        /// [`Limits::max_side`].
        max_side: u32,
    },
    /// Decoding would allocate more than [`Limits::max_alloc`] (422).
    #[error("decoding this {format} image needs more than the {limit}-byte memory limit")]
    TooMuchMemory {
        /// The format being decoded.
        format: Format,
        /// [`Limits::max_alloc`].
        limit: u64,
    },
    /// Encoding an output failed; not the upload's fault (500).
    #[error("could not encode the {variant} variant: {message}")]
    Encode {
        /// The variant being encoded.
        variant: &'static str,
        /// The encoder's message.
        message: String,
    },
}

impl PhotoError {
    /// The HTTP status for this error: 413, 415, 422 or 500.
    #[must_use]
    pub fn status(&self) -> u16 {
        match self {
            Self::TooLarge { .. } => 413,
            Self::NotAnImage | Self::Unsupported(_) => 415,
            Self::Corrupt(_) | Self::TooManyPixels { .. } | Self::TooMuchMemory { .. } => 422,
            Self::Encode { .. } => 500,
        }
    }
}

/// Checks, decodes and re-encodes an upload into the files to serve.
///
/// Gives `thumb` (longest side ≤ 400) and `display` (≤ 1600), never upscaled,
/// with the aspect ratio kept and the EXIF orientation applied. Both are JPEG
/// quality 82, unless the image has real transparency (some alpha below
/// fully opaque), in which case both are PNG.
///
/// With `keep_original`, also `original`: the full-size image, oriented and
/// re-encoded from its pixels (never the uploaded bytes): PNG for lossless
/// sources (PNG at its bit depth, GIF's first frame, lossless WebP) and for
/// any image with transparency; JPEG quality 92 for lossy opaque sources
/// (JPEG, lossy WebP).
///
/// No output carries metadata of any kind.
///
/// # Errors
///
/// See [`PhotoError`]; the checks run in the order size, format, header
/// dimensions, then decoding.
pub fn process(
    bytes: &[u8],
    limits: &Limits,
    keep_original: bool,
) -> Result<Processed, PhotoError> {
    let size = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
    if size > limits.max_bytes {
        return Err(PhotoError::TooLarge {
            bytes: size,
            limit: limits.max_bytes,
        });
    }
    let Some(format) = sniff(bytes) else {
        return Err(
            sniff_unsupported(bytes).map_or(PhotoError::NotAnImage, PhotoError::Unsupported)
        );
    };
    if format == Format::Jpeg {
        check_jpeg_complete(bytes)?;
    }

    let (mut img, orientation) = decode(bytes, format, limits)?;
    img.apply_orientation(orientation);
    let (width, height) = (img.width(), img.height());

    let transparent = has_transparency(&img);
    let mut variants = Vec::with_capacity(3);

    // The downscaled variants work on 8-bit pixels: premultiplied RGBA when
    // there is transparency (so that the colour of invisible pixels does not
    // bleed into the edges), else RGB or grey without an alpha channel.
    let working: Cow<'_, DynamicImage> = match &img {
        _ if transparent => {
            let mut rgba = img.to_rgba8();
            premultiply(&mut rgba);
            Cow::Owned(DynamicImage::ImageRgba8(rgba))
        }
        DynamicImage::ImageRgb8(_) | DynamicImage::ImageLuma8(_) => Cow::Borrowed(&img),
        other if is_grey(other.color()) => Cow::Owned(DynamicImage::ImageLuma8(other.to_luma8())),
        other => Cow::Owned(DynamicImage::ImageRgb8(other.to_rgb8())),
    };
    let display = downscale(&working, DISPLAY_MAX_SIDE);
    let thumb = downscale(&display, THUMB_MAX_SIDE);

    for (name, scaled) in [("thumb", &*thumb), ("display", &*display)] {
        let encoded = if transparent {
            let mut rgba = scaled.to_rgba8();
            unpremultiply(&mut rgba);
            encode_png(&DynamicImage::ImageRgba8(rgba), name)?
        } else {
            encode_jpeg(scaled, JPEG_QUALITY, name)?
        };
        variants.push(Variant::new(name, scaled, encoded));
    }

    if keep_original {
        let lossless_source = match format {
            Format::Png | Format::Gif => true,
            Format::WebP => webp_is_lossless(bytes),
            Format::Jpeg => false,
        };
        let encoded = if lossless_source || transparent {
            encode_png(&img, "original")?
        } else {
            encode_jpeg(&img, ORIGINAL_JPEG_QUALITY, "original")?
        };
        variants.push(Variant::new("original", &img, encoded));
    }

    Ok(Processed {
        format,
        width,
        height,
        variants,
    })
}

/// Reads the header, applies the limits, and decodes the pixels.
fn decode(
    bytes: &[u8],
    format: Format,
    limits: &Limits,
) -> Result<(DynamicImage, Orientation), PhotoError> {
    // First open the decoder with only the allocation cap, so that the
    // dimensions can be read and reported, then refuse them ourselves.
    let mut header_limits = image::Limits::default();
    header_limits.max_image_width = None;
    header_limits.max_image_height = None;
    header_limits.max_alloc = Some(limits.max_alloc);
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format.image_format());
    reader.limits(header_limits);
    let mut decoder = reader
        .into_decoder()
        .map_err(|e| decode_error(format, limits, e))?;

    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 {
        return Err(PhotoError::Corrupt(format!(
            "the {format} header declares an empty {width}x{height} image"
        )));
    }
    let pixels = u64::from(width) * u64::from(height);
    if pixels > limits.max_pixels || width > limits.max_side || height > limits.max_side {
        return Err(PhotoError::TooManyPixels {
            width,
            height,
            limit: limits.max_pixels,
            max_side: limits.max_side,
        });
    }

    // Then the full limits: the side caps, and the pixel buffer reserved
    // against the allocation cap, leaving the rest for the decoder's own use.
    let mut full = image::Limits::default();
    full.max_image_width = Some(limits.max_side);
    full.max_image_height = Some(limits.max_side);
    full.max_alloc = Some(limits.max_alloc);
    full.reserve(decoder.total_bytes())
        .map_err(|e| decode_error(format, limits, e))?;
    decoder
        .set_limits(full)
        .map_err(|e| decode_error(format, limits, e))?;

    // A damaged EXIF block should not cost the photo: it is then shown as stored.
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let img = DynamicImage::from_decoder(decoder).map_err(|e| decode_error(format, limits, e))?;
    Ok((img, orientation))
}

fn decode_error(format: Format, limits: &Limits, err: ImageError) -> PhotoError {
    match err {
        ImageError::Limits(_) => PhotoError::TooMuchMemory {
            format,
            limit: limits.max_alloc,
        },
        ImageError::Unsupported(_) => PhotoError::Unsupported(match format {
            Format::Jpeg => "this JPEG's coding or colour format",
            Format::Png => "this PNG's colour format",
            Format::Gif => "this GIF's format",
            Format::WebP => "this WebP's format",
        }),
        other => {
            let detail = other.to_string().replace(['\n', '\r'], " ");
            PhotoError::Corrupt(format!(
                "the {format} data is invalid or truncated: {detail}"
            ))
        }
    }
}

/// Refuses a JPEG that ends before its end-of-image marker.
///
/// Walks the marker segments by their lengths and the entropy-coded data
/// byte by byte (where `FF 00` is a stuffed byte and `FF D0`–`FF D7` are
/// restart markers), so that an `FF D9` inside a segment such as an EXIF
/// thumbnail is not taken for the end.
fn check_jpeg_complete(bytes: &[u8]) -> Result<(), PhotoError> {
    let truncated = || {
        PhotoError::Corrupt(
            "the JPEG data is truncated: it ends before its end-of-image marker".to_owned(),
        )
    };
    let mut seen_scan = false;
    let mut i = 2; // after SOI
    loop {
        let Some(skip) = bytes
            .get(i..)
            .and_then(|rest| rest.iter().position(|&b| b == 0xFF))
        else {
            return Err(truncated());
        };
        i += skip;
        while bytes.get(i + 1) == Some(&0xFF) {
            i += 1; // fill bytes
        }
        let Some(&marker) = bytes.get(i + 1) else {
            return Err(truncated());
        };
        i += 2;
        match marker {
            0x00 | 0x01 | 0xD0..=0xD8 => {}
            0xD9 if seen_scan => return Ok(()),
            0xD9 => {
                return Err(PhotoError::Corrupt(
                    "the JPEG data is invalid: it ends before any image data".to_owned(),
                ));
            }
            _ => {
                let Some(len) = bytes.get(i..i + 2) else {
                    return Err(truncated());
                };
                let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
                if len < 2 {
                    return Err(PhotoError::Corrupt(format!(
                        "the JPEG data is invalid: marker FF{marker:02X} has a length of {len}"
                    )));
                }
                i += len;
                if i > bytes.len() {
                    return Err(truncated());
                }
                seen_scan |= marker == 0xDA;
            }
        }
    }
}

/// Whether a WebP holds a lossless (`VP8L`) rather than a lossy (`VP8 `) bitstream.
fn webp_is_lossless(bytes: &[u8]) -> bool {
    let mut i = 12;
    while let Some(head) = bytes.get(i..i + 8) {
        match &head[..4] {
            b"VP8L" => return true,
            b"VP8 " => return false,
            _ => {}
        }
        let len = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        i = i
            .saturating_add(8)
            .saturating_add(len)
            .saturating_add(len & 1);
    }
    false
}

fn is_grey(color: ColorType) -> bool {
    matches!(
        color,
        ColorType::L8 | ColorType::L16 | ColorType::La8 | ColorType::La16
    )
}

/// Whether any pixel is less than fully opaque.
fn has_transparency(img: &DynamicImage) -> bool {
    if !img.color().has_alpha() {
        return false;
    }
    match img {
        DynamicImage::ImageRgba8(b) => b.pixels().any(|p| p.0[3] != u8::MAX),
        DynamicImage::ImageLumaA8(b) => b.pixels().any(|p| p.0[1] != u8::MAX),
        DynamicImage::ImageRgba16(b) => b.pixels().any(|p| p.0[3] != u16::MAX),
        DynamicImage::ImageLumaA16(b) => b.pixels().any(|p| p.0[1] != u16::MAX),
        other => other.to_rgba8().pixels().any(|p| p.0[3] != u8::MAX),
    }
}

fn premultiply(img: &mut RgbaImage) {
    for p in img.pixels_mut() {
        let a = u32::from(p.0[3]);
        for c in &mut p.0[..3] {
            // (c * a + 127) / 255, in range because c, a ≤ 255.
            *c = u8::try_from((u32::from(*c) * a + 127) / 255).unwrap_or(u8::MAX);
        }
    }
}

fn unpremultiply(img: &mut RgbaImage) {
    for p in img.pixels_mut() {
        let a = u32::from(p.0[3]);
        if a == 0 {
            p.0 = [0; 4];
            continue;
        }
        for c in &mut p.0[..3] {
            *c = u8::try_from((u32::from(*c) * 255 + a / 2) / a).unwrap_or(u8::MAX);
        }
    }
}

/// The size that fits within `max_side` × `max_side` keeping the aspect
/// ratio, or the size itself when it already fits (never upscaled).
fn fit(width: u32, height: u32, max_side: u32) -> (u32, u32) {
    if width <= max_side && height <= max_side {
        return (width, height);
    }
    let (long, short) = (u64::from(width.max(height)), u64::from(width.min(height)));
    let scaled = (short * u64::from(max_side) + long / 2) / long;
    let scaled = u32::try_from(scaled).unwrap_or(max_side).max(1);
    if width >= height {
        (max_side, scaled)
    } else {
        (scaled, max_side)
    }
}

fn downscale(img: &DynamicImage, max_side: u32) -> Cow<'_, DynamicImage> {
    let (w, h) = fit(img.width(), img.height(), max_side);
    if (w, h) == (img.width(), img.height()) {
        Cow::Borrowed(img)
    } else {
        // `DynamicImage::resize_exact` is not generic, so its code is built
        // with the `image` crate's optimisation level, not this crate's.
        Cow::Owned(img.resize_exact(w, h, RESIZE_FILTER))
    }
}

struct Encoded {
    mime: &'static str,
    bytes: Vec<u8>,
}

fn encode_jpeg(
    img: &DynamicImage,
    quality: u8,
    variant: &'static str,
) -> Result<Encoded, PhotoError> {
    // JPEG takes grey or RGB without alpha; only opaque images get here.
    let pixels: Cow<'_, DynamicImage> = match img {
        DynamicImage::ImageLuma8(_) | DynamicImage::ImageRgb8(_) => Cow::Borrowed(img),
        other if is_grey(other.color()) => Cow::Owned(DynamicImage::ImageLuma8(other.to_luma8())),
        other => Cow::Owned(DynamicImage::ImageRgb8(other.to_rgb8())),
    };
    let mut bytes = Vec::new();
    pixels
        .write_with_encoder(JpegEncoder::new_with_quality(&mut bytes, quality))
        .map_err(|e| encode_error(variant, &e))?;
    Ok(Encoded {
        mime: "image/jpeg",
        bytes,
    })
}

fn encode_png(img: &DynamicImage, variant: &'static str) -> Result<Encoded, PhotoError> {
    let mut bytes = Vec::new();
    let encoder =
        PngEncoder::new_with_quality(&mut bytes, CompressionType::Default, PngFilter::Adaptive);
    img.write_with_encoder(encoder)
        .map_err(|e| encode_error(variant, &e))?;
    Ok(Encoded {
        mime: "image/png",
        bytes,
    })
}

fn encode_error(variant: &'static str, err: &ImageError) -> PhotoError {
    PhotoError::Encode {
        variant,
        message: err.to_string().replace(['\n', '\r'], " "),
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0F)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::codecs::gif::GifEncoder;
    use image::{Frame, Rgb, RgbImage, Rgba};

    /// A photo-like picture: smooth gradients plus deterministic noise.
    fn photo(width: u32, height: u32) -> RgbImage {
        let mut seed: u32 = 0x1234_5678;
        RgbImage::from_fn(width, height, |x, y| {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let noise = (seed >> 27) as u8; // 0..32
            Rgb([
                ((x * 200 / width) as u8).saturating_add(noise),
                ((y * 200 / height) as u8).saturating_add(noise),
                (((x + y) * 100 / (width + height)) as u8).saturating_add(noise),
            ])
        })
    }

    fn encode(img: &DynamicImage, format: ImageFormat) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, format).expect("encode test image");
        out.into_inner()
    }

    fn jpeg(img: &RgbImage) -> Vec<u8> {
        let mut out = Vec::new();
        DynamicImage::ImageRgb8(img.clone())
            .write_with_encoder(JpegEncoder::new_with_quality(&mut out, 90))
            .expect("encode test JPEG");
        out
    }

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|w| w == needle)
    }

    fn decode_variant(v: &Variant) -> DynamicImage {
        let format = match v.mime {
            "image/jpeg" => ImageFormat::Jpeg,
            "image/png" => ImageFormat::Png,
            other => panic!("unexpected output type {other}"),
        };
        assert_eq!(sniff(&v.bytes).map(Format::mime), Some(v.mime));
        let img = image::load_from_memory_with_format(&v.bytes, format).expect("output decodes");
        assert_eq!(
            (img.width(), img.height()),
            (v.width, v.height),
            "{}",
            v.name
        );
        img
    }

    fn sizes(p: &Processed) -> Vec<(&'static str, u32, u32, &'static str)> {
        p.variants
            .iter()
            .map(|v| (v.name, v.width, v.height, v.mime))
            .collect()
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let mut out = (data.len() as u32).to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        let mut crc_input = kind.to_vec();
        crc_input.extend_from_slice(data);
        out.extend_from_slice(&crc32(&crc_input).to_be_bytes());
        out
    }

    /// A PNG that is only a header claiming `width`×`height` RGB pixels, and a
    /// few bytes of image data.
    fn png_header_only(width: u32, height: u32) -> Vec<u8> {
        let mut ihdr = width.to_be_bytes().to_vec();
        ihdr.extend_from_slice(&height.to_be_bytes());
        ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        png.extend(png_chunk(b"IHDR", &ihdr));
        png.extend(png_chunk(b"IDAT", &[0x78, 0x9C, 0x63, 0x00, 0x00]));
        png.extend(png_chunk(b"IEND", &[]));
        png
    }

    /// The GPS latitude 51° 28' 41.79" as three EXIF rationals, little-endian.
    fn gps_latitude() -> Vec<u8> {
        [(51u32, 1u32), (28, 1), (4179, 100)]
            .iter()
            .flat_map(|(n, d)| n.to_le_bytes().into_iter().chain(d.to_le_bytes()))
            .collect()
    }

    /// An APP1 EXIF segment: IFD0 with Orientation and a GPSInfo pointer, and
    /// a GPS IFD with the latitude.
    fn exif_app1(orientation: u16) -> Vec<u8> {
        let entry = |tag: u16, kind: u16, count: u32, value: [u8; 4]| {
            let mut e = tag.to_le_bytes().to_vec();
            e.extend_from_slice(&kind.to_le_bytes());
            e.extend_from_slice(&count.to_le_bytes());
            e.extend_from_slice(&value);
            e
        };
        let gps_ifd: u32 = 8 + 2 + 2 * 12 + 4; // after IFD0
        let latitude: u32 = gps_ifd + 2 + 2 * 12 + 4; // after the GPS IFD
        let o = orientation.to_le_bytes();

        let mut tiff = b"II*\0".to_vec();
        tiff.extend_from_slice(&8u32.to_le_bytes());
        tiff.extend_from_slice(&2u16.to_le_bytes());
        tiff.extend(entry(0x0112, 3, 1, [o[0], o[1], 0, 0])); // Orientation, SHORT
        tiff.extend(entry(0x8825, 4, 1, gps_ifd.to_le_bytes())); // GPSInfo, LONG
        tiff.extend_from_slice(&0u32.to_le_bytes());
        assert_eq!(tiff.len() as u32, gps_ifd);
        tiff.extend_from_slice(&2u16.to_le_bytes());
        tiff.extend(entry(0x0001, 2, 2, *b"N\0\0\0")); // GPSLatitudeRef, ASCII
        tiff.extend(entry(0x0002, 5, 3, latitude.to_le_bytes())); // GPSLatitude, RATIONAL
        tiff.extend_from_slice(&0u32.to_le_bytes());
        assert_eq!(tiff.len() as u32, latitude);
        tiff.extend(gps_latitude());

        let mut app1 = vec![0xFF, 0xE1];
        app1.extend_from_slice(&((2 + 6 + tiff.len()) as u16).to_be_bytes());
        app1.extend_from_slice(b"Exif\0\0");
        app1.extend(tiff);
        app1
    }

    /// Puts a segment right after the JFIF APP0 segment of a JPEG.
    fn insert_segment(jpeg: &[u8], segment: &[u8]) -> Vec<u8> {
        assert_eq!(&jpeg[2..4], &[0xFF, 0xE0], "the encoder writes APP0 first");
        let at = 4 + usize::from(u16::from_be_bytes([jpeg[4], jpeg[5]]));
        [&jpeg[..at], segment, &jpeg[at..]].concat()
    }

    #[test]
    fn jpeg_round_trip_scales_down_keeping_aspect() {
        let input = jpeg(&photo(2000, 1000));
        let p = process(&input, &Limits::default(), false).expect("processes");
        assert_eq!(p.format, Format::Jpeg);
        assert_eq!((p.width, p.height), (2000, 1000));
        assert_eq!(
            sizes(&p),
            [
                ("thumb", 400, 200, "image/jpeg"),
                ("display", 1600, 800, "image/jpeg"),
            ]
        );
        for v in &p.variants {
            decode_variant(v);
        }
    }

    #[test]
    fn png_round_trip_never_upscales() {
        let input = encode(&DynamicImage::ImageRgb8(photo(500, 300)), ImageFormat::Png);
        let p = process(&input, &Limits::default(), false).expect("processes");
        assert_eq!(p.format, Format::Png);
        assert_eq!(
            sizes(&p),
            [
                ("thumb", 400, 240, "image/jpeg"),
                ("display", 500, 300, "image/jpeg"),
            ]
        );
        for v in &p.variants {
            decode_variant(v);
        }
    }

    #[test]
    fn gif_round_trip_takes_the_first_frame() {
        let red = RgbaImage::from_pixel(300, 200, Rgba([220, 20, 20, 255]));
        let blue = RgbaImage::from_pixel(300, 200, Rgba([20, 20, 220, 255]));
        let mut input = Vec::new();
        GifEncoder::new(&mut input)
            .encode_frames([Frame::new(red), Frame::new(blue)])
            .expect("encode test GIF");
        let p = process(&input, &Limits::default(), true).expect("processes");
        assert_eq!(p.format, Format::Gif);
        assert_eq!(
            sizes(&p),
            [
                ("thumb", 300, 200, "image/jpeg"),
                ("display", 300, 200, "image/jpeg"),
                ("original", 300, 200, "image/png"),
            ]
        );
        for v in &p.variants {
            let px = decode_variant(v).to_rgb8().get_pixel(150, 100).0;
            assert!(
                px[0] > 180 && px[2] < 60,
                "{}: first frame is red, got {px:?}",
                v.name
            );
        }
    }

    #[test]
    fn webp_round_trip_portrait() {
        let input = encode(&DynamicImage::ImageRgb8(photo(600, 900)), ImageFormat::WebP);
        assert_eq!(sniff(&input), Some(Format::WebP));
        let p = process(&input, &Limits::default(), true).expect("processes");
        assert_eq!(p.format, Format::WebP);
        assert_eq!(
            sizes(&p),
            [
                ("thumb", 267, 400, "image/jpeg"),
                ("display", 600, 900, "image/jpeg"),
                // image's WebP encoder is lossless, so the original stays lossless.
                ("original", 600, 900, "image/png"),
            ]
        );
        for v in &p.variants {
            decode_variant(v);
        }
    }

    #[test]
    fn transparency_gives_png_with_alpha() {
        let img = RgbaImage::from_fn(800, 400, |x, _| {
            if x < 400 {
                Rgba([255, 255, 255, 0])
            } else {
                Rgba([10, 120, 200, 255])
            }
        });
        let input = encode(&DynamicImage::ImageRgba8(img), ImageFormat::Png);
        let p = process(&input, &Limits::default(), true).expect("processes");
        assert_eq!(
            sizes(&p),
            [
                ("thumb", 400, 200, "image/png"),
                ("display", 800, 400, "image/png"),
                ("original", 800, 400, "image/png"),
            ]
        );
        let thumb = decode_variant(&p.variants[0]).to_rgba8();
        assert_eq!(thumb.get_pixel(50, 100).0[3], 0);
        // The opaque edge keeps its colour: no white bleeding in from the
        // invisible pixels next to it.
        let edge = thumb.get_pixel(201, 100).0;
        assert_eq!(edge[3], 255);
        assert!(edge[0] < 40 && edge[2] > 170, "edge colour {edge:?}");
    }

    #[test]
    fn exif_orientation_applied_and_metadata_removed() {
        let img = RgbImage::from_fn(64, 32, |x, _| {
            if x < 32 {
                Rgb([230, 10, 10])
            } else {
                Rgb([10, 10, 230])
            }
        });
        let input = insert_segment(&jpeg(&img), &exif_app1(6));
        assert!(contains(&input, b"Exif\0\0") && contains(&input, &gps_latitude()));

        let p = process(&input, &Limits::default(), true).expect("processes");
        assert_eq!((p.width, p.height), (32, 64), "rotated 90° clockwise");
        assert_eq!(p.variants.len(), 3);
        for v in &p.variants {
            assert_eq!((v.width, v.height), (32, 64), "{}", v.name);
            assert!(
                !contains(&v.bytes, b"Exif"),
                "{} has an EXIF marker",
                v.name
            );
            assert!(
                !contains(&v.bytes, &[0xFF, 0xE1]),
                "{} has an APP1 segment",
                v.name
            );
            assert!(
                !contains(&v.bytes, b"II*\0"),
                "{} has a TIFF header",
                v.name
            );
            assert!(
                !contains(&v.bytes, &gps_latitude()),
                "{} has the GPS latitude",
                v.name
            );
            // The left (red) half of the stored image is now the top half.
            let out = decode_variant(v).to_rgb8();
            let top = out.get_pixel(16, 8).0;
            let bottom = out.get_pixel(16, 56).0;
            assert!(top[0] > 180 && top[2] < 60, "{} top {top:?}", v.name);
            assert!(
                bottom[2] > 180 && bottom[0] < 60,
                "{} bottom {bottom:?}",
                v.name
            );
        }
    }

    #[test]
    fn text_file_is_not_an_image() {
        let err = process(
            b"Dear diary, this is not a photo.\n",
            &Limits::default(),
            false,
        )
        .expect_err("refused");
        assert!(matches!(err, PhotoError::NotAnImage), "{err:?}");
        assert_eq!(err.status(), 415);
        assert_eq!(
            err.to_string(),
            "the file is not a JPEG, PNG, GIF or WebP image (judged by its bytes)"
        );
        assert_eq!(sniff(b""), None);
    }

    #[test]
    fn known_but_unsupported_formats_are_named() {
        let avif = b"\0\0\0\x1cftypavif\0\0\0\0avifmif1miaf\0\0\0\0";
        let err = process(avif, &Limits::default(), false).expect_err("refused");
        assert!(matches!(err, PhotoError::Unsupported("AVIF")), "{err:?}");
        assert_eq!(err.status(), 415);
        let heic = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic";
        let err = process(heic, &Limits::default(), false).expect_err("refused");
        assert!(
            matches!(err, PhotoError::Unsupported("HEIC/HEIF")),
            "{err:?}"
        );
        let tiff = b"II*\0\x08\0\0\0";
        let err = process(tiff, &Limits::default(), false).expect_err("refused");
        assert!(matches!(err, PhotoError::Unsupported(_)), "{err:?}");
    }

    #[test]
    fn truncated_jpeg_is_corrupt() {
        let input = jpeg(&photo(300, 200));
        let err =
            process(&input[..input.len() / 2], &Limits::default(), false).expect_err("refused");
        assert!(matches!(err, PhotoError::Corrupt(_)), "{err:?}");
        assert_eq!(err.status(), 422);
        assert!(err.to_string().contains("JPEG"), "{err}");
    }

    #[test]
    fn truncated_png_is_corrupt() {
        let input = encode(&DynamicImage::ImageRgb8(photo(300, 200)), ImageFormat::Png);
        let err =
            process(&input[..input.len() / 2], &Limits::default(), false).expect_err("refused");
        assert!(matches!(err, PhotoError::Corrupt(_)), "{err:?}");
        assert_eq!(err.status(), 422);
        assert!(err.to_string().contains("PNG"), "{err}");
    }

    #[test]
    fn pixel_bomb_refused_from_the_header() {
        let input = png_header_only(100_000, 100_000);
        assert!(input.len() < 100);
        let err = process(&input, &Limits::default(), false).expect_err("refused");
        assert!(
            matches!(
                err,
                PhotoError::TooManyPixels {
                    width: 100_000,
                    height: 100_000,
                    limit: 50_000_000,
                    max_side: 12_000,
                }
            ),
            "{err:?}"
        );
        assert_eq!(err.status(), 422);
    }

    #[test]
    fn overlong_side_refused_from_the_header() {
        let err =
            process(&png_header_only(13_000, 10), &Limits::default(), false).expect_err("refused");
        assert!(
            matches!(
                err,
                PhotoError::TooManyPixels {
                    width: 13_000,
                    height: 10,
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn lying_jpeg_and_gif_headers_refused_before_decoding() {
        let mut input = jpeg(&photo(40, 30));
        let sof = input
            .windows(2)
            .position(|w| w == [0xFF, 0xC0])
            .expect("baseline SOF");
        input[sof + 5..sof + 9].copy_from_slice(&[0xEA, 0x60, 0xEA, 0x60]); // 60000x60000
        let err = process(&input, &Limits::default(), false).expect_err("refused");
        assert!(
            matches!(
                err,
                PhotoError::TooManyPixels {
                    width: 60_000,
                    height: 60_000,
                    ..
                }
            ),
            "{err:?}"
        );

        let mut input = encode(&DynamicImage::ImageRgb8(photo(40, 30)), ImageFormat::Gif);
        input[6..10].copy_from_slice(&[0xFF, 0xFF, 0xFF, 0xFF]); // 65535x65535 screen
        let err = process(&input, &Limits::default(), false).expect_err("refused");
        assert!(
            matches!(
                err,
                PhotoError::TooManyPixels {
                    width: 65_535,
                    height: 65_535,
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn webp_bitstream_kind_is_read_from_the_chunks() {
        let riff = |chunks: &[(&[u8; 4], usize)]| {
            let mut out = b"RIFF\0\0\0\0WEBP".to_vec();
            for (kind, len) in chunks {
                out.extend_from_slice(*kind);
                out.extend_from_slice(&(*len as u32).to_le_bytes());
                out.extend(std::iter::repeat_n(0u8, len + len % 2));
            }
            out
        };
        assert!(!webp_is_lossless(&riff(&[(b"VP8 ", 10)])));
        assert!(webp_is_lossless(&riff(&[(b"VP8L", 5)])));
        assert!(webp_is_lossless(&riff(&[
            (b"VP8X", 10),
            (b"EXIF", 3),
            (b"VP8L", 5)
        ])));
        assert!(!webp_is_lossless(&riff(&[
            (b"VP8X", 10),
            (b"ALPH", 7),
            (b"VP8 ", 5)
        ])));
        assert!(!webp_is_lossless(b"RIFF\0\0\0\0WEBPVP8L"));
    }

    #[test]
    fn sixteen_bit_grey_png() {
        let img = image::ImageBuffer::from_fn(900, 450, |x, y| image::Luma([(x * 60 + y) as u16]));
        let input = encode(&DynamicImage::ImageLuma16(img), ImageFormat::Png);
        let p = process(&input, &Limits::default(), true).expect("processes");
        assert_eq!(
            sizes(&p),
            [
                ("thumb", 400, 200, "image/jpeg"),
                ("display", 900, 450, "image/jpeg"),
                ("original", 900, 450, "image/png"),
            ]
        );
        assert_eq!(decode_variant(&p.variants[0]).color(), ColorType::L8);
        assert_eq!(decode_variant(&p.variants[2]).color(), ColorType::L16);
    }

    #[test]
    fn decoder_allocation_cap_applies() {
        let input = encode(&DynamicImage::ImageRgb8(photo(300, 200)), ImageFormat::Png);
        let limits = Limits {
            max_alloc: 10_000,
            ..Limits::default()
        };
        let err = process(&input, &limits, false).expect_err("refused");
        assert!(matches!(err, PhotoError::TooMuchMemory { .. }), "{err:?}");
        assert_eq!(err.status(), 422);
    }

    #[test]
    fn oversized_upload_refused_before_anything_else() {
        let limits = Limits {
            max_bytes: 100,
            ..Limits::default()
        };
        let err = process(&[b'x'; 101], &limits, false).expect_err("refused");
        assert!(
            matches!(
                err,
                PhotoError::TooLarge {
                    bytes: 101,
                    limit: 100
                }
            ),
            "{err:?}"
        );
        assert_eq!(err.status(), 413);
        process(&jpeg(&photo(4, 4))[..], &Limits::default(), false).expect("small is fine");
    }

    #[test]
    fn keep_original_adds_a_full_size_variant() {
        let input = jpeg(&photo(1700, 1000));
        let without = process(&input, &Limits::default(), false).expect("processes");
        assert!(without.variant("original").is_none());
        assert_eq!(without.variants.len(), 2);

        let with = process(&input, &Limits::default(), true).expect("processes");
        assert_eq!(with.variants.len(), 3);
        let original = with.variant("original").expect("original kept");
        assert_eq!((original.width, original.height), (1700, 1000));
        assert_eq!(original.mime, "image/jpeg");
        decode_variant(original);
        // Asking for the original does not change the other variants.
        assert_eq!(with.variants[..2], without.variants[..]);
    }

    #[test]
    fn output_is_deterministic() {
        let input = jpeg(&photo(900, 700));
        let a = process(&input, &Limits::default(), true).expect("processes");
        let b = process(&input, &Limits::default(), true).expect("processes");
        assert_eq!(a, b);
        for v in &a.variants {
            assert_eq!(v.sha256, hex(&Sha256::digest(&v.bytes)));
            assert_eq!(v.sha256.len(), 64);
            assert!(
                v.sha256
                    .bytes()
                    .all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
            );
        }
        assert_eq!(
            hex(&Sha256::digest(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn srcset_lists_thumb_and_display() {
        let big = process(&jpeg(&photo(2000, 1000)), &Limits::default(), true).expect("ok");
        assert_eq!(
            big.srcset(|v| format!("/p/{}.jpg", v.name)),
            "/p/thumb.jpg 400w, /p/display.jpg 1600w"
        );
        let small = process(&jpeg(&photo(300, 200)), &Limits::default(), false).expect("ok");
        assert_eq!(small.srcset(|v| format!("/{}", v.name)), "/thumb 300w");
    }

    #[test]
    fn jpeg_walk_ignores_end_markers_inside_segments() {
        // An APP1 segment carrying FF D9 (as an EXIF thumbnail would) before
        // the image data: the file is complete, and cutting it is not.
        let mut segment = vec![0xFF, 0xE1, 0x00, 0x08];
        segment.extend_from_slice(&[0xFF, 0xD8, 0xFF, 0xD9]);
        let input = insert_segment(&jpeg(&photo(40, 30)), &segment);
        assert!(check_jpeg_complete(&input).is_ok());
        assert!(check_jpeg_complete(&input[..input.len() - 2]).is_err());
        assert!(check_jpeg_complete(&input[..30]).is_err());
    }
}
