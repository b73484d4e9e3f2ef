//! Regions: ids, names and governance scores.

use super::ck::{Ck, Ids};
use super::network::{Model, Region};
use crate::scenario::RawScenario;

/// Declare the regions and add them to the model; returns their ids.
pub(super) fn compile_regions(raw: &RawScenario, ck: &mut Ck, model: &mut Model) -> Ids {
    let mut region_ids = Ids::new("region");
    for (i, r) in raw.region.iter().enumerate() {
        let r = r.get_ref();
        let key = format!("region[{i}]");
        region_ids.declare(ck, &r.id, &format!("{key}.id"));
        let governance = r.governance.as_ref().map(|g| {
            let x = *g.get_ref();
            if !(-2.5..=2.5).contains(&x) {
                ck.err(
                    g.span(),
                    format!("{key}.governance"),
                    format!("expected a WGI score between -2.5 and 2.5, found {x}"),
                    "use the World Bank WGI mean of the six indicators",
                );
            }
            x.clamp(-2.5, 2.5)
        });
        model.regions.push(Region {
            id: r.id.get_ref().clone(),
            name: r.name.clone().unwrap_or_else(|| r.id.get_ref().clone()),
            governance,
            tags: r.tags.iter().map(|t| t.get_ref().clone()).collect(),
        });
    }
    region_ids
}
