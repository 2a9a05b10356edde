//! `theme.css`: the built-in theme's colours, generated from `site.toml`. The accent is
//! adjusted until it reaches WCAG AA contrast (4.5:1) on each background, so whatever
//! colour a user picks, links stay readable in light and dark mode.

use super::site_toml::{ColorScheme, Theme};

const LIGHT: Palette = Palette {
    fg: (0x1d, 0x1d, 0x1f),
    bg: (0xfd, 0xfd, 0xfc),
    muted: (0x55, 0x58, 0x5e),
};
const DARK: Palette = Palette {
    fg: (0xe8, 0xe6, 0xe3),
    bg: (0x16, 0x16, 0x18),
    muted: (0xa8, 0xa8, 0xad),
};

type Rgb = (u8, u8, u8);

struct Palette {
    fg: Rgb,
    bg: Rgb,
    muted: Rgb,
}

/// The stylesheet defining the theme's colour variables.
pub fn css(theme: &Theme) -> String {
    let accent = parse(theme.accent.get_ref()).unwrap_or((0x0b, 0x6e, 0x4f));
    let light = block(&LIGHT, accent);
    let dark = block(&DARK, accent);
    let (colours, code) = match theme.color_scheme {
        ColorScheme::Light => (
            format!(":root {{ color-scheme: light; {light} }}\n"),
            Some(false),
        ),
        ColorScheme::Dark => (
            format!(":root {{ color-scheme: dark; {dark} }}\n"),
            Some(true),
        ),
        ColorScheme::Auto => (
            format!(
                ":root {{ color-scheme: light dark; {light} }}\n\
                 @media (prefers-color-scheme: dark) {{ :root {{ {dark} }} }}\n"
            ),
            None,
        ),
    };
    format!("{colours}{}", super::markdown::highlight_css(code))
}

/// The accent for print (the PDF), readable on white paper.
#[cfg(feature = "pdf")]
pub fn print_accent(theme: &Theme) -> String {
    let accent = parse(theme.accent.get_ref()).unwrap_or((0x0b, 0x6e, 0x4f));
    hex(readable(accent, (255, 255, 255)))
}

fn block(p: &Palette, accent: Rgb) -> String {
    let accent = readable(accent, p.bg);
    format!(
        "--fg: {}; --bg: {}; --muted: {}; --accent: {}; --rule: {}; --chip: {};",
        hex(p.fg),
        hex(p.bg),
        hex(p.muted),
        hex(accent),
        hex(mix(p.fg, p.bg, 0.2)),
        hex(mix(p.fg, p.bg, 0.08)),
    )
}

/// `color` moved toward black or white (whichever contrasts with `bg`) until the
/// contrast ratio reaches 4.5.
fn readable(color: Rgb, bg: Rgb) -> Rgb {
    let target = if luminance(bg) > 0.5 {
        (0, 0, 0)
    } else {
        (255, 255, 255)
    };
    (0..=20)
        .map(|step| mix(target, color, f64::from(step) / 20.0))
        .find(|c| contrast(*c, bg) >= 4.5)
        .unwrap_or(target)
}

fn mix(a: Rgb, b: Rgb, share_of_a: f64) -> Rgb {
    let m = |x: u8, y: u8| {
        (f64::from(x) * share_of_a + f64::from(y) * (1.0 - share_of_a)).round() as u8
    };
    (m(a.0, b.0), m(a.1, b.1), m(a.2, b.2))
}

fn luminance((r, g, b): Rgb) -> f64 {
    let channel = |c: u8| {
        let c = f64::from(c) / 255.0;
        if c <= 0.039_28 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)
}

fn contrast(a: Rgb, b: Rgb) -> f64 {
    let (la, lb) = (luminance(a), luminance(b));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

fn parse(text: &str) -> Option<Rgb> {
    let hex = text.strip_prefix('#')?;
    let digit = |s: &str| u8::from_str_radix(s, 16).ok();
    match hex.len() {
        3 => {
            let d = |i: usize| digit(&hex[i..=i]).map(|v| v * 17);
            Some((d(0)?, d(1)?, d(2)?))
        }
        6 => Some((digit(&hex[0..2])?, digit(&hex[2..4])?, digit(&hex[4..6])?)),
        _ => None,
    }
}

fn hex((r, g, b): Rgb) -> String {
    format!("#{r:02x}{g:02x}{b:02x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_accent_is_readable_on_both_backgrounds() {
        for accent in ["#ffff00", "#000000", "#0b6e4f", "#fff", "#3366ff"] {
            let rgb = parse(accent).unwrap();
            for bg in [LIGHT.bg, DARK.bg] {
                let fixed = readable(rgb, bg);
                assert!(contrast(fixed, bg) >= 4.5, "{accent} on {}", hex(bg));
            }
        }
        // A colour that is already readable is kept as it is.
        assert_eq!(readable((0x0b, 0x6e, 0x4f), LIGHT.bg), (0x0b, 0x6e, 0x4f));
        assert!(contrast(LIGHT.muted, LIGHT.bg) >= 4.5);
        assert!(contrast(DARK.muted, DARK.bg) >= 4.5);
    }

    #[test]
    fn the_scheme_decides_which_blocks_are_written() {
        let mut theme = Theme::default();
        assert!(css(&theme).contains("prefers-color-scheme: dark"));
        theme.color_scheme = ColorScheme::Dark;
        let dark = css(&theme);
        assert!(!dark.contains("prefers-color-scheme") && dark.contains("--bg: #161618"));
    }
}
