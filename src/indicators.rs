//! Static concentration indicators: no simulation, just the network's shape.
//!
//! - Herfindahl-Hirschman index of supply capacity by region, per material (0..10000).
//! - Each importer's dependence on its top region per material, through the bill of materials:
//!   the share of its supply that depends on a region at any stage (a Japanese magnet made from
//!   Chinese oxide is Chinese exposure). A supplier that loses any input stops (Leontief), so its
//!   output depends on a region through its most dependent input.
//! - An EU-style supply-risk index where governance is given:
//!   SR = sum_c s_c^2 * WGI'_c * (1 - EoL-RIR) * SI, with WGI' = 2 * (2.5 - WGI) on 0..10.

use serde::Serialize;

use crate::model::{Model, Owner};

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
    pub capacity_per_year: f64,
    pub unit: String,
    pub hhi: f64,
    pub hhi_flag: bool,
    pub top_region: String,
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
    pub material: String,
    /// Direct sourcing: share bought from suppliers in the top region.
    pub direct_top_region: String,
    pub direct_top_share: f64,
    /// Through the bill of materials: share that depends on the top region at any stage.
    pub upstream_top_region: String,
    pub upstream_top_share: f64,
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
            capacity_per_year: total * 365.0 / model.step_days as f64,
            unit: mat.unit.clone(),
            hhi,
            hhi_flag: hhi > HHI_THRESHOLD,
            top_region: model.regions[top].id.clone(),
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
        let upstream = slot_dep(b.ix(), &sup_dep);
        let (dr, ds) = argmax(&direct);
        let (ur, us) = argmax(&upstream);
        dependence.push(ImporterDependence {
            importer: model.importers[ii.ix()].id.clone(),
            material: model.materials[slot.material.ix()].id.clone(),
            direct_top_region: model.regions[dr].id.clone(),
            direct_top_share: ds,
            upstream_top_region: model.regions[ur].id.clone(),
            upstream_top_share: us,
            flag: us > SINGLE_COUNTRY_THRESHOLD,
        });
    }
    Indicators {
        schema: "supplyshock.check/1",
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

/// Plain-text tables for a terminal.
pub fn render_table(ind: &Indicators) -> String {
    let mut out = String::new();
    out.push_str(&format!("{}\n\n", ind.scenario));
    out.push_str("Supply concentration by region (capacity)\n");
    out.push_str(&format!(
        "{:<22} {:>8} {:<10} {:>7} {:>8}  {}\n",
        "material", "HHI", "top", "share", "SR", "flags"
    ));
    for m in &ind.materials {
        let mut flags = Vec::new();
        if m.hhi_flag {
            flags.push("HHI>2500");
        }
        if m.single_country_flag {
            flags.push(">65% one country");
        }
        let sr = m.supply_risk.map_or("-".to_owned(), |s| format!("{s:.2}"));
        out.push_str(&format!(
            "{:<22} {:>8.0} {:<10} {:>6.1}% {:>8}  {}\n",
            m.material,
            m.hhi,
            m.top_region,
            m.top_share * 100.0,
            sr,
            flags.join(", ")
        ));
    }
    out.push_str(
        "\nImporter dependence on one region (direct sourcing / through the bill of materials)\n",
    );
    out.push_str(&format!(
        "{:<12} {:<22} {:<16} {:<16} {}\n",
        "importer", "material", "direct", "upstream", "flag"
    ));
    for d in &ind.dependence {
        out.push_str(&format!(
            "{:<12} {:<22} {:<16} {:<16} {}\n",
            d.importer,
            d.material,
            format!("{} {:.1}%", d.direct_top_region, d.direct_top_share * 100.0),
            format!(
                "{} {:.1}%",
                d.upstream_top_region,
                d.upstream_top_share * 100.0
            ),
            if d.flag { ">65% one country" } else { "" }
        ));
    }
    out
}
