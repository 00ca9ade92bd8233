//! Which Route53 hosted zone holds a name: one rule for the steps (which write records into the
//! zone), the guided install (which offers it as the default) and the synthesizer (which names
//! it in the templates). Never a guess from the last two labels: the longest public zone that
//! contains the name, or the one the answers name.

use super::validators::is_within;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    /// Without the `/hostedzone/` prefix.
    pub id: String,
    /// Without the trailing dot.
    pub name: String,
}

/// Picks the zone for `domain` among `zones`: `wanted` when the answers name one, otherwise the
/// public zone with the longest name that contains `domain`.
pub fn pick_zone<'a>(zones: &'a [Zone], domain: &str, wanted: Option<&str>) -> Option<&'a Zone> {
    match wanted {
        Some(w) => zones.iter().find(|z| z.name == w),
        None => zones
            .iter()
            .filter(|z| is_within(domain, &z.name))
            .max_by_key(|z| z.name.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn z(id: &str, name: &str) -> Zone {
        Zone {
            id: id.into(),
            name: name.into(),
        }
    }

    #[test]
    fn longest_matching_zone_wins() {
        let zones = [
            z("A", "example.co.uk"),
            z("B", "staging.example.co.uk"),
            z("C", "co.uk.example.org"),
        ];
        assert_eq!(
            pick_zone(&zones, "api.staging.example.co.uk", None)
                .unwrap()
                .id,
            "B"
        );
        assert_eq!(
            pick_zone(&zones, "api.example.co.uk", None).unwrap().id,
            "A"
        );
        assert_eq!(pick_zone(&zones, "api.other.co.uk", None), None);
        assert_eq!(
            pick_zone(&zones, "api.staging.example.co.uk", Some("example.co.uk"))
                .unwrap()
                .id,
            "A"
        );
    }
}
