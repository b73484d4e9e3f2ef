//! Static concentration indicators: no simulation, just the network's shape.
//!
//! - Herfindahl-Hirschman index of supply capacity by region, per material (0..10000).
//! - Each importer's dependence on one region per material: directly (its own sourcing), and
//!   upstream, through the bill of materials to the origin of the inputs. A supplier's output
//!   depends fully on its own region, and on every other region through its most dependent input
//!   (production is Leontief: a supplier that loses any input stops). An importer's upstream
//!   dependence is its top *foreign* region: its own region does not count, so a product made at
//!   home from imported inputs is exposure to where the inputs come from (a US fab making chips
//!   from Chinese gallium is Chinese exposure for a US buyer), and a Japanese magnet made from
//!   Chinese oxide is Japanese and Chinese exposure for a European one.
//! - An EU-style supply-risk index where governance is given:
//!   SR = sum_c s_c^2 * WGI'_c * (1 - EoL-RIR) * SI, with WGI' = 2 * (2.5 - WGI) on 0..10.

use serde::Serialize;

use crate::model::{Model, Owner};
use crate::table::{Align, Table};

/// The schema of `check --format json`.
pub const CHECK_SCHEMA: &str = "supplyshock.check/2";

/// HHI above this is "highly concentrated" (US DOJ/FTC merger guidelines).
pub const HHI_THRESHOLD: f64 = 2500.0;
/// Most a strategic material may come from one third country (EU Critical Raw Materials Act).
pub const SINGLE_COUNTRY_THRESHOLD: f64 = 0.65;

#[derive(Debug, Clone, Serialize)]
pub struct Indicators {
    pub schema: &'static str,
    pub scenario: String,
    pub materials: Vec<MaterialConcentration>,
    pub dependence: Vec<ImporterDependence>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MaterialConcentration {
    pub material: String,
    /// The material's `name` (its id when the scenario gives none).
    pub name: String,
    pub capacity_per_year: f64,
    pub unit: String,
    pub hhi: f64,
    pub hhi_flag: bool,
    pub top_region: String,
    pub top_region_name: String,
    pub top_share: f64,
    pub single_country_flag: bool,
    /// Supply shares by region, largest first.
    pub shares: Vec<(String, f64)>,
    /// EU-style supply-risk index, when governance is known for some supplying region.
    pub supply_risk: Option<f64>,
    /// Share of supply whose region has governance data.
    pub governance_coverage: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ImporterDependence {
    pub importer: String,
    /// The importer's `name` (its id when the scenario gives none).
    pub importer_name: String,
    pub material: String,
    /// The material's `name` (its id when the scenario gives none).
    pub material_name: String,
    /// Direct sourcing: share bought from suppliers in the top region.
    pub direct_top_region: String,
    pub direct_top_region_name: String,
    pub direct_top_share: f64,
    /// Through the bill of materials: the foreign region (not the importer's own) that the
    /// largest share of its supply depends on at some stage, and that share; None when nothing
    /// it buys depends on another region.
    pub upstream_top_region: Option<String>,
    pub upstream_top_region_name: Option<String>,
    pub upstream_top_share: f64,
    /// The upstream share is above [`SINGLE_COUNTRY_THRESHOLD`].
    pub flag: bool,
}

pub fn compute(model: &Model) -> Indicators {
    let nr = model.regions.len();
    let mut materials = Vec::new();
    for (mi, mat) in model.materials.iter().enumerate() {
        let mut by_region = vec![0.0; nr];
        for s in &model.material_suppliers[mi] {
            let sup = &model.suppliers[s.ix()];
            by_region[sup.region.ix()] += sup.capacity;
        }
        let total: f64 = by_region.iter().sum();
        if total <= 0.0 {
            continue;
        }
        let shares: Vec<f64> = by_region.iter().map(|c| c / total).collect();
        let hhi = shares.iter().map(|s| (s * 100.0).powi(2)).sum::<f64>();
        let (top, top_share) = argmax(&shares);
        let mut listed: Vec<(String, f64)> = shares
            .iter()
            .enumerate()
            .filter(|(_, &s)| s > 0.0)
            .map(|(r, &s)| (model.regions[r].id.clone(), s))
            .collect();
        listed.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let covered: f64 = shares
            .iter()
            .enumerate()
            .filter(|(r, _)| model.regions[*r].governance.is_some())
            .map(|(_, s)| s)
            .sum();
        let supply_risk = (covered > 0.0).then(|| {
            let hhi_wgi: f64 = shares
                .iter()
                .enumerate()
                .filter_map(|(r, s)| model.regions[r].governance.map(|g| s * s * 2.0 * (2.5 - g)))
                .sum();
            hhi_wgi
                * (1.0 - mat.recycling_input_rate.unwrap_or(0.0))
                * mat.substitution_index.unwrap_or(1.0)
        });
        materials.push(MaterialConcentration {
            material: mat.id.clone(),
            name: mat.name.clone(),
            capacity_per_year: total * 365.0 / model.step_days as f64,
            unit: mat.unit.clone(),
            hhi,
            hhi_flag: hhi > HHI_THRESHOLD,
            top_region: model.regions[top].id.clone(),
            top_region_name: model.regions[top].name.clone(),
            top_share,
            single_country_flag: top_share > SINGLE_COUNTRY_THRESHOLD,
            shares: listed,
            supply_risk,
            governance_coverage: covered,
        });
    }

    // Dependence of each supplier's output on each region, in production order.
    let mut sup_dep = vec![vec![0.0; nr]; model.suppliers.len()];
    let slot_dep = |b: usize, sup_dep: &Vec<Vec<f64>>| -> Vec<f64> {
        let mut d = vec![0.0; nr];
        for e in model.slots[b].in_edges.clone() {
            let edge = &model.edges[model.slot_edges[e as usize].ix()];
            for (r, x) in sup_dep[edge.supplier.ix()].iter().enumerate() {
                d[r] += edge.share * x;
            }
        }
        d
    };
    for &m in &model.material_order {
        for &s in &model.material_suppliers[m.ix()] {
            let sup = &model.suppliers[s.ix()];
            let mut d = vec![0.0; nr];
            d[sup.region.ix()] = 1.0;
            for b in sup.input_slots.clone() {
                for (r, x) in slot_dep(b as usize, &sup_dep).into_iter().enumerate() {
                    d[r] = f64::max(d[r], x);
                }
            }
            sup_dep[s.ix()] = d;
        }
    }
    let mut dependence = Vec::new();
    for b in model.importer_slots() {
        let slot = &model.slots[b.ix()];
        let Owner::Importer(ii) = slot.owner else {
            continue;
        };
        let mut direct = vec![0.0; nr];
        for e in slot.in_edges.clone() {
            let edge = &model.edges[model.slot_edges[e as usize].ix()];
            direct[model.suppliers[edge.supplier.ix()].region.ix()] += edge.share;
        }
        // Dependence on its own region is not foreign exposure: a domestic stage passes on the
        // exposure of its inputs.
        let mut upstream = slot_dep(b.ix(), &sup_dep);
        upstream[model.importers[ii.ix()].region.ix()] = 0.0;
        let (dr, ds) = argmax(&direct);
        let (ur, us) = argmax(&upstream);
        let us = us.max(0.0);
        dependence.push(ImporterDependence {
            importer: model.importers[ii.ix()].id.clone(),
            importer_name: model.importers[ii.ix()].name.clone(),
            material: model.materials[slot.material.ix()].id.clone(),
            material_name: model.materials[slot.material.ix()].name.clone(),
            direct_top_region: model.regions[dr].id.clone(),
            direct_top_region_name: model.regions[dr].name.clone(),
            direct_top_share: ds,
            upstream_top_region: (us > 0.0).then(|| model.regions[ur].id.clone()),
            upstream_top_region_name: (us > 0.0).then(|| model.regions[ur].name.clone()),
            upstream_top_share: us,
            flag: us > SINGLE_COUNTRY_THRESHOLD,
        });
    }
    Indicators {
        schema: CHECK_SCHEMA,
        scenario: model.name.clone(),
        materials,
        dependence,
    }
}

fn argmax(xs: &[f64]) -> (usize, f64) {
    xs.iter()
        .enumerate()
        .fold((0, f64::NEG_INFINITY), |(bi, bx), (i, &x)| {
            if x > bx {
                (i, x)
            } else {
                (bi, bx)
            }
        })
}

/// Plain-text tables for a terminal, by id: `check` speaks of the scenario as written.
pub fn render_table(ind: &Indicators) -> String {
    let mut out = String::new();
    out.push_str(&format!("{}\n\n", ind.scenario));
    out.push_str("Supply concentration by region (capacity)\n");
    let mut t = Table::new(&[
        ("material", Align::Left),
        ("HHI", Align::Right),
        ("top", Align::Left),
        ("share", Align::Right),
        ("SR", Align::Right),
        ("flags", Align::Left),
    ]);
    for m in &ind.materials {
        let mut flags = Vec::new();
        if m.hhi_flag {
            flags.push("HHI>2500");
        }
        if m.single_country_flag {
            flags.push(">65% one country");
        }
        t.row([
            m.material.clone(),
            format!("{:.0}", m.hhi),
            m.top_region.clone(),
            format!("{:.1}%", m.top_share * 100.0),
            m.supply_risk.map_or("-".to_owned(), |s| format!("{s:.2}")),
            flags.join(", "),
        ]);
    }
    out.push_str(&t.render());
    out.push_str(
        "\nImporter dependence on one region (direct sourcing / upstream: foreign, through the bill \
         of materials)\n",
    );
    let mut t = Table::new(&[
        ("importer", Align::Left),
        ("material", Align::Left),
        ("direct", Align::Left),
        ("upstream", Align::Left),
        ("flag", Align::Left),
    ]);
    for d in &ind.dependence {
        t.row([
            d.importer.clone(),
            d.material.clone(),
            format!("{} {:.1}%", d.direct_top_region, d.direct_top_share * 100.0),
            match &d.upstream_top_region {
                Some(r) => format!("{} {:.1}%", r, d.upstream_top_share * 100.0),
                None => "domestic".to_owned(),
            },
            if d.flag { ">65% one country" } else { "" }.to_owned(),
        ]);
    }
    out.push_str(&t.render());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn indicators(text: &str) -> Indicators {
        match crate::model::load_str("test.toml", text.to_owned()) {
            Ok(l) => compute(&l.study.baseline),
            Err(d) => panic!("scenario should load:\n{d}"),
        }
    }

    fn dependence<'a>(
        ind: &'a Indicators,
        importer: &str,
        material: &str,
    ) -> &'a ImporterDependence {
        ind.dependence
            .iter()
            .find(|d| d.importer == importer && d.material == material)
            .unwrap_or_else(|| panic!("no row for {importer} {material}"))
    }

    /// A US fab makes chips from gallium bought 90% from China and 10% from Japan; a US buyer
    /// takes all its chips from the fab.
    const US_FAB: &str = r#"
[scenario]
name = "US fab on Chinese gallium"

[[region]]
id = "US"
[[region]]
id = "CN"
[[region]]
id = "JP"
[[region]]
id = "EU"

[[material]]
id = "gallium"
value = 100
[[material]]
id = "chip"
value = 1000
inputs = { gallium = 0.01 }

[[supplier]]
id = "cn_ga"
region = "CN"
material = "gallium"
capacity = 1000
[[supplier]]
id = "jp_ga"
region = "JP"
material = "gallium"
capacity = 1000
[[supplier]]
id = "us_fab"
region = "US"
material = "chip"
capacity = 10000
sourcing.gallium = { cn_ga = 0.9, jp_ga = 0.1 }

[[importer]]
id = "us_buyer"
region = "US"
demand = { chip = 5000 }
sourcing.chip = { us_fab = 1.0 }

[[importer]]
id = "eu_buyer"
region = "EU"
demand = { chip = 1000 }
sourcing.chip = { us_fab = 1.0 }

[[importer]]
id = "us_ga_buyer"
region = "US"
demand = { gallium = 10 }
sourcing.gallium = { cn_ga = 0.9, jp_ga = 0.1 }
"#;

    #[test]
    fn a_product_made_at_home_from_imported_inputs_is_exposure_to_the_inputs_origin() {
        let ind = indicators(US_FAB);
        let d = dependence(&ind, "us_buyer", "chip");
        assert_eq!(d.direct_top_region, "US");
        assert!((d.direct_top_share - 1.0).abs() < 1e-12);
        assert_eq!(d.upstream_top_region.as_deref(), Some("CN"), "{d:?}");
        assert!((d.upstream_top_share - 0.9).abs() < 1e-12, "{d:?}");
        assert!(d.flag);
        let table = render_table(&ind);
        let row = table
            .lines()
            .find(|l| l.starts_with("us_buyer"))
            .expect("a row for us_buyer");
        assert!(row.contains("CN 90.0%"), "{row}");
        // Raw materials bought abroad: the upstream region is where they come from.
        let d = dependence(&ind, "us_ga_buyer", "gallium");
        assert_eq!(d.upstream_top_region.as_deref(), Some("CN"));
        assert!((d.upstream_top_share - 0.9).abs() < 1e-12);
    }

    #[test]
    fn a_product_made_abroad_is_exposure_to_where_it_is_made() {
        // For a European buyer the US fab's own region counts: every chip depends on it.
        let ind = indicators(US_FAB);
        let d = dependence(&ind, "eu_buyer", "chip");
        assert_eq!(d.upstream_top_region.as_deref(), Some("US"));
        assert!((d.upstream_top_share - 1.0).abs() < 1e-12);
    }

    #[test]
    fn a_chain_that_stays_at_home_has_no_foreign_dependence() {
        let text = US_FAB.replace(
            "sourcing.gallium = { cn_ga = 0.9, jp_ga = 0.1 }\n\n[[importer]]\nid = \"us_buyer\"",
            "sourcing.gallium = { us_ga = 1.0 }\n\n[[importer]]\nid = \"us_buyer\"",
        ) + "\n[[supplier]]\nid = \"us_ga\"\nregion = \"US\"\nmaterial = \"gallium\"\ncapacity = 1000\n";
        let ind = indicators(&text);
        let d = dependence(&ind, "us_buyer", "chip");
        assert_eq!(d.upstream_top_region, None, "{d:?}");
        assert_eq!(d.upstream_top_share, 0.0);
        assert!(!d.flag);
        let row = render_table(&ind)
            .lines()
            .find(|l| l.starts_with("us_buyer"))
            .expect("a row for us_buyer")
            .to_owned();
        assert!(row.contains("domestic"), "{row}");
    }
}
