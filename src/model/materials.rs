//! Materials and the bill of materials: what each is made from, and an order inputs-first.

use super::ck::{Ck, Ids};
use super::network::{Market, Material, MaterialIdx, Model};
use crate::market::Curve;
use crate::scenario::{RawMarket, RawScenario};
use toml::Spanned;

/// Declare the materials, check their bills of materials and add them to the model in an order
/// where every input comes before what is made from it. Returns their ids, or None on a cycle.
pub(super) fn compile_materials(raw: &RawScenario, ck: &mut Ck, model: &mut Model) -> Option<Ids> {
    let mut material_ids = Ids::new("material");
    for (i, m) in raw.material.iter().enumerate() {
        material_ids.declare(ck, &m.get_ref().id, &format!("material[{i}].id"));
    }
    let mut materials = Vec::new();
    for (i, m) in raw.material.iter().enumerate() {
        let span = m.span();
        let m = m.get_ref();
        let key = format!("material[{i}]");
        let value = match &m.value {
            Some(v) => ck.nonneg(
                v,
                &format!("{key}.value"),
                "currency per unit of the material",
            ),
            None => {
                ck.warn(
                    span.clone(),
                    format!("{key}.value"),
                    format!(
                        "material `{}` has no value: its shortfalls will cost 0",
                        m.id.get_ref()
                    ),
                    "add `value = <currency per unit>`",
                );
                0.0
            }
        };
        let mut inputs = Vec::new();
        for (name, ratio) in &m.inputs {
            let k = format!("{key}.inputs.{name}");
            if let Some(mi) = material_ids.resolve_name(ck, name, ratio.span(), &k) {
                if let Some(r) =
                    ck.positive(ratio, &k, "units of input per unit of output, e.g. 0.3")
                {
                    inputs.push((MaterialIdx(mi), r));
                }
            }
        }
        materials.push(Material {
            id: m.id.get_ref().clone(),
            name: m.name.clone().unwrap_or_else(|| m.id.get_ref().clone()),
            unit: m.unit.clone().unwrap_or_else(|| "t".to_owned()),
            value,
            loss_multiplier: ck.opt_nonneg(
                &m.loss_multiplier,
                &format!("{key}.loss_multiplier"),
                1.0,
                "value lost downstream per unit of value missing, e.g. 20",
            ),
            inputs,
            recycling_input_rate: m.recycling_input_rate.as_ref().map(|v| {
                ck.fraction(
                    v,
                    &format!("{key}.recycling_input_rate"),
                    "recycling input rate",
                )
            }),
            substitution_index: m.substitution_index.as_ref().map(|v| {
                ck.fraction(
                    v,
                    &format!("{key}.substitution_index"),
                    "substitution index",
                )
            }),
            market: m
                .market
                .as_ref()
                .map(|mk| market(ck, mk.get_ref(), &format!("{key}.market"), model.step_days)),
        });
    }
    let material_order = match topo_order(&materials) {
        Ok(order) => order,
        Err(cycle) => {
            let names: Vec<&str> = cycle
                .iter()
                .map(|m| materials[m.ix()].id.as_str())
                .collect();
            let first = cycle[0].ix();
            ck.err(raw.material[first].span(), format!("material[{first}].inputs"), format!("the bill of materials has a cycle: {} -> {}", names.join(" -> "), names[0]), "a material cannot be, directly or indirectly, an input of itself: remove one of these inputs");
            return None;
        }
    };
    model.materials = materials;
    model.material_order = material_order;
    Some(material_ids)
}

/// A `[material.market]` block, checked.
fn market(ck: &mut Ck, m: &RawMarket, key: &str, step_days: u32) -> Market {
    let elasticity = |ck: &mut Ck, v: &Spanned<f64>, name: &str| {
        let x = ck.nonneg(
            v,
            &format!("{key}.{name}"),
            "a short-run elasticity, e.g. 0.1",
        );
        if x > 20.0 {
            ck.err(
                v.span(),
                format!("{key}.{name}"),
                format!("an elasticity of {x} is not a short-run elasticity"),
                "short-run elasticities of critical materials are below 1; at most 20 is accepted",
            );
        }
        x
    };
    let demand_elasticity = elasticity(ck, &m.demand_elasticity, "demand_elasticity");
    let supply_elasticity = elasticity(ck, &m.supply_elasticity, "supply_elasticity");
    let supply_elasticity_below = match &m.supply_elasticity_below {
        Some(v) => elasticity(ck, v, "supply_elasticity_below"),
        None => supply_elasticity,
    };
    let mut multiple = |v: &Option<Spanned<f64>>,
                        name: &str,
                        default: f64,
                        ok: fn(f64) -> bool,
                        want: &str,
                        hint: &str| {
        let Some(v) = v else { return default };
        let x = *v.get_ref();
        if x.is_finite() && ok(x) {
            x
        } else {
            ck.err(
                v.span(),
                format!("{key}.{name}"),
                format!("expected {want}, found {}", crate::diag::num(x)),
                hint.to_owned(),
            );
            default
        }
    };
    let max_price = multiple(
        &m.max_price,
        "max_price",
        DEFAULT_MAX_PRICE,
        |x| (1.0..=1e6).contains(&x),
        "a ceiling of at least 1 (and at most 1e6)",
        "a multiple of the material's `value`, e.g. 8 for eight times it",
    );
    let min_price = multiple(
        &m.min_price,
        "min_price",
        DEFAULT_MIN_PRICE,
        |x| x > 0.0 && x <= 1.0,
        "a floor above 0 and at most 1",
        "a multiple of the material's `value`, e.g. 0.5 for half of it",
    );
    let adjust_days = multiple(
        &m.adjust_days,
        "adjust_days",
        0.0,
        |x| (0.0..=3650.0).contains(&x),
        "days from 0 to 3650",
        "days for the price to close most of its gap to the clearing price, e.g. 14 (0 clears every step)",
    );
    let adjust = if adjust_days > 0.0 {
        1.0 - (-f64::from(step_days) / adjust_days).exp()
    } else {
        1.0
    };
    Market {
        curve: Curve {
            demand_elasticity,
            supply_elasticity,
            supply_elasticity_below,
            min_price,
            max_price,
        },
        adjust,
    }
}

/// Defaults of `[material.market]` (multiples of the material's `value`; docs/model.md,
/// "Markets").
pub const DEFAULT_MAX_PRICE: f64 = 10.0;
pub const DEFAULT_MIN_PRICE: f64 = 0.5;

/// Kahn's algorithm; on a cycle, returns the materials on it in order.
fn topo_order(materials: &[Material]) -> Result<Vec<MaterialIdx>, Vec<MaterialIdx>> {
    let n = materials.len();
    let mut indeg = vec![0usize; n];
    // Edges input -> output.
    let mut outs: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (o, m) in materials.iter().enumerate() {
        for &(i, _) in &m.inputs {
            outs[i.ix()].push(o);
            indeg[o] += 1;
        }
    }
    let mut order = Vec::with_capacity(n);
    let mut ready: std::collections::BTreeSet<usize> = (0..n).filter(|&i| indeg[i] == 0).collect();
    while let Some(&i) = ready.iter().next() {
        ready.remove(&i);
        order.push(MaterialIdx(i as u32));
        for &o in &outs[i] {
            indeg[o] -= 1;
            if indeg[o] == 0 {
                ready.insert(o);
            }
        }
    }
    if order.len() == n {
        return Ok(order);
    }
    // Walk inputs from a material left on a cycle until one repeats.
    let start = (0..n).find(|&i| indeg[i] > 0).unwrap();
    let mut path = vec![start];
    let mut cur = start;
    loop {
        let next = materials[cur]
            .inputs
            .iter()
            .map(|&(i, _)| i.ix())
            .find(|&i| indeg[i] > 0)
            .unwrap();
        if let Some(pos) = path.iter().position(|&p| p == next) {
            let mut cycle: Vec<MaterialIdx> =
                path[pos..].iter().map(|&i| MaterialIdx(i as u32)).collect();
            cycle.reverse(); // input -> output order
            return Err(cycle);
        }
        path.push(next);
        cur = next;
    }
}
