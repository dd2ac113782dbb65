//! WCAG 2 contrast of the stylesheet's colour pairs, checked in tests so a palette change cannot silently make
//! text unreadable in either theme.

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::HashMap;

    const CSS: &str = include_str!("../assets/app.css");

    /// The custom properties (`--name: #rrggbb`) of the first rule block after `marker`.
    fn palette(marker: &str) -> HashMap<String, (f64, f64, f64)> {
        let start = CSS.find(marker).unwrap();
        let block = &CSS[start..];
        let block = &block[block.find('{').unwrap() + 1..];
        let block = &block[..block.find('}').unwrap()];
        block
            .split(';')
            .filter_map(|decl| {
                let (name, value) = decl.trim().split_once(':')?;
                let hex = value.trim().strip_prefix('#')?;
                let channel = |i: usize| f64::from(u8::from_str_radix(&hex[i..i + 2], 16).unwrap()) / 255.0;
                Some((name.trim().trim_start_matches("--").to_owned(), (channel(0), channel(2), channel(4))))
            })
            .collect()
    }

    fn luminance((r, g, b): (f64, f64, f64)) -> f64 {
        let linear = |c: f64| if c <= 0.04045 { c / 12.92 } else { ((c + 0.055) / 1.055).powf(2.4) };
        0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b)
    }

    fn ratio(a: (f64, f64, f64), b: (f64, f64, f64)) -> f64 {
        let (la, lb) = (luminance(a), luminance(b));
        (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
    }

    /// Text colours on the backgrounds they are used on, with the WCAG AA minimum for normal text (4.5) or for
    /// large text and graphics (3).
    const PAIRS: &[(&str, &str, f64)] = &[
        ("text", "bg", 4.5),
        ("text", "surface", 4.5),
        ("muted", "bg", 4.5),
        ("muted", "surface", 4.5),
        ("accent", "bg", 4.5),
        ("accent", "surface", 4.5),
        ("accent-text", "accent", 4.5),
        ("pass", "surface", 4.5),
        ("fail", "surface", 4.5),
        ("warn", "surface", 4.5),
        ("text", "bad-bg", 4.5),
        ("focus", "bg", 3.0),
        ("focus", "surface", 3.0),
        ("skip", "surface", 3.0),
    ];

    #[test]
    fn both_themes_meet_wcag_aa_contrast() {
        for (theme, marker) in [("light", ":root {"), ("dark", ":root[data-theme=\"dark\"] {")] {
            let colours = palette(marker);
            assert!(colours.len() >= 14, "{theme}: {colours:?}");
            for (fg, bg, minimum) in PAIRS {
                let got = ratio(colours[*fg], colours[*bg]);
                assert!(got >= *minimum, "{theme}: {fg} on {bg} is {got:.2}:1, below {minimum}:1");
            }
        }
    }

    #[test]
    fn the_system_dark_theme_is_the_toggle_dark_theme() {
        let system = palette(":root:not([data-theme=\"light\"]) {");
        assert_eq!(system, palette(":root[data-theme=\"dark\"] {"));
    }

    #[test]
    fn the_contrast_formula_matches_known_values() {
        assert!((ratio((0.0, 0.0, 0.0), (1.0, 1.0, 1.0)) - 21.0).abs() < 1e-9);
        assert!((ratio((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)) - 1.0).abs() < 1e-9);
    }
}
