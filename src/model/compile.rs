//! Scenario -> model: every check, every problem reported in one pass.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use super::network::*;
use crate::diag::{did_you_mean, Diagnostic, Severity, SourceFile};
use crate::dist::{Dist, DistError, DistParams, FAMILIES};
use crate::scenario::{self, OneOrMany, RawDist, RawScenario, RawTarget, Spanned};

pub(crate) struct Ck<'a> {
    pub src: &'a SourceFile,
    pub diags: Vec<Diagnostic>,
    pub prefix: &'a str,
}

impl<'a> Ck<'a> {
    pub fn err(
        &mut self,
        span: Range<usize>,
        key: impl AsRef<str>,
        msg: impl Into<String>,
        hint: impl Into<String>,
    ) {
        self.push(Severity::Error, span, key.as_ref(), msg.into(), hint.into());
    }

    pub fn warn(
        &mut self,
        span: Range<usize>,
        key: impl AsRef<str>,
        msg: impl Into<String>,
        hint: impl Into<String>,
    ) {
        self.push(
            Severity::Warning,
            span,
            key.as_ref(),
            msg.into(),
            hint.into(),
        );
    }

    fn push(
        &mut self,
        severity: Severity,
        span: Range<usize>,
        key: &str,
        msg: String,
        hint: String,
    ) {
        let key = format!("{}{key}", self.prefix);
        let d = match severity {
            Severity::Error => Diagnostic::error(self.src, span, key, msg),
            Severity::Warning => Diagnostic::warning(self.src, span, key, msg),
        };
        self.diags.push(d.with_hint(hint));
    }

    fn errors(&self) -> usize {
        self.diags.iter().filter(|d| d.is_error()).count()
    }

    /// A finite number >= 0.
    fn nonneg(&mut self, v: &Spanned<f64>, key: &str, unit_hint: &str) -> f64 {
        let x = *v.get_ref();
        if x.is_finite() && x >= 0.0 {
            x
        } else {
            self.err(
                v.span(),
                key,
                format!(
                    "expected a finite number >= 0, found {}",
                    crate::diag::num(x)
                ),
                unit_hint.to_owned(),
            );
            0.0
        }
    }

    fn positive(&mut self, v: &Spanned<f64>, key: &str, hint: &str) -> Option<f64> {
        let x = *v.get_ref();
        if x.is_finite() && x > 0.0 {
            Some(x)
        } else {
            self.err(
                v.span(),
                key,
                format!(
                    "expected a finite number > 0, found {}",
                    crate::diag::num(x)
                ),
                hint.to_owned(),
            );
            None
        }
    }

    fn fraction(&mut self, v: &Spanned<f64>, key: &str, what: &str) -> f64 {
        let x = *v.get_ref();
        if (0.0..=1.0).contains(&x) {
            x
        } else {
            self.err(
                v.span(),
                key,
                format!("expected a {what} between 0 and 1, found {x}"),
                "write it as a fraction: 0.25 means 25%",
            );
            x.clamp(0.0, 1.0)
        }
    }

    fn opt_nonneg(&mut self, v: &Option<Spanned<f64>>, key: &str, default: f64, hint: &str) -> f64 {
        v.as_ref().map_or(default, |v| self.nonneg(v, key, hint))
    }
}

/// Ids of one kind, in file order.
pub(crate) struct Ids {
    kind: &'static str,
    pub list: Vec<String>,
    map: BTreeMap<String, u32>,
}

impl Ids {
    fn new(kind: &'static str) -> Ids {
        Ids {
            kind,
            list: Vec::new(),
            map: BTreeMap::new(),
        }
    }

    fn declare(&mut self, ck: &mut Ck, id: &Spanned<String>, key: &str) -> u32 {
        let name = id.get_ref();
        let idx = self.list.len() as u32;
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        {
            ck.err(
                id.span(),
                key,
                format!(
                    "invalid {} id {name:?}: ids use letters, digits, '_', '-' and '.'",
                    self.kind
                ),
                "rename it, e.g. \"cn_ree\"",
            );
        }
        if self.map.contains_key(name) {
            ck.err(
                id.span(),
                key,
                format!("duplicate {} id `{name}`", self.kind),
                format!("every {} needs its own id", self.kind),
            );
        } else {
            self.map.insert(name.clone(), idx);
        }
        self.list.push(name.clone());
        idx
    }

    pub fn get(&self, name: &str) -> Option<u32> {
        self.map.get(name).copied()
    }

    fn resolve(
        &self,
        ck: &mut Ck,
        id: &Spanned<String>,
        fallback: Range<usize>,
        key: &str,
    ) -> Option<u32> {
        self.resolve_name(ck, id.get_ref(), span_or(id, fallback), key)
    }

    fn resolve_name(&self, ck: &mut Ck, name: &str, span: Range<usize>, key: &str) -> Option<u32> {
        if let Some(i) = self.get(name) {
            return Some(i);
        }
        let hint = match did_you_mean(name, self.list.iter().map(String::as_str)) {
            Some(best) => format!("did you mean `{best}`?"),
            None if self.list.is_empty() => format!("declare it in a [[{}]] table", self.kind),
            None => format!("known {} ids: {}", self.kind, preview(&self.list)),
        };
        ck.err(span, key, format!("unknown {} `{name}`", self.kind), hint);
        None
    }
}

fn preview(list: &[String]) -> String {
    let mut s = list.iter().take(8).cloned().collect::<Vec<_>>().join(", ");
    if list.len() > 8 {
        s.push_str(&format!(", ... ({} in all)", list.len()));
    }
    s
}

fn span_or<T>(v: &Spanned<T>, fallback: Range<usize>) -> Range<usize> {
    let s = v.span();
    if s.start == 0 && s.end == 0 {
        fallback
    } else {
        s
    }
}

const SHARE_TOLERANCE: f64 = 1e-6;
/// Poisson shocks arrive at most once a day on average.
const MAX_RATE_PER_YEAR: f64 = 365.0;

/// Compile one scenario (the baseline, or a strategy's edited copy). Returns a model when there
/// were no errors.
pub fn compile(
    raw: &RawScenario,
    src: &SourceFile,
    prefix: &str,
) -> (Option<Model>, Vec<Diagnostic>) {
    let mut ck = Ck {
        src,
        diags: Vec::new(),
        prefix,
    };
    let model = compile_inner(raw, &mut ck);
    let ok = ck.errors() == 0;
    (model.filter(|_| ok), ck.diags)
}

fn compile_inner(raw: &RawScenario, ck: &mut Ck) -> Option<Model> {
    // ---- [scenario]
    let meta = raw.scenario.get_ref();
    let int = |ck: &mut Ck,
               v: &Option<Spanned<i64>>,
               key: &str,
               min: i64,
               default: i64,
               hint: &str|
     -> i64 {
        match v {
            None => default,
            Some(v) if *v.get_ref() >= min => *v.get_ref(),
            Some(v) => {
                ck.err(
                    v.span(),
                    key,
                    format!("expected a whole number >= {min}, found {}", v.get_ref()),
                    hint.to_owned(),
                );
                default
            }
        }
    };
    let horizon_days = int(
        ck,
        &meta.horizon_days,
        "scenario.horizon_days",
        1,
        365,
        "the simulated period in days, e.g. 730 for two years",
    );
    let step_days = int(
        ck,
        &meta.step_days,
        "scenario.step_days",
        1,
        1,
        "1 = daily steps, 7 = weekly",
    );
    let trials = int(
        ck,
        &meta.trials,
        "scenario.trials",
        1,
        10_000,
        "Monte Carlo trials, e.g. 10000",
    );
    let seed = int(
        ck,
        &meta.seed,
        "scenario.seed",
        0,
        0,
        "any whole number >= 0",
    );
    let sustain_days = int(
        ck,
        &meta.sustain_days,
        "scenario.sustain_days",
        0,
        7,
        "days of full service that count as recovered",
    );
    if horizon_days > 36_500 {
        if let Some(v) = &meta.horizon_days {
            ck.err(
                v.span(),
                "scenario.horizon_days",
                format!("horizon of {horizon_days} days is longer than 100 years"),
                "use at most 36500 days",
            );
        }
    }
    let horizon_days = horizon_days.min(36_500) as u32;
    let step_days = step_days.min(i64::from(horizon_days)).max(1) as u32;
    if let Some(v) = &meta.step_days {
        if *v.get_ref() > i64::from(horizon_days) {
            ck.err(
                v.span(),
                "scenario.step_days",
                format!(
                    "a step of {} days is longer than the horizon ({horizon_days} days)",
                    v.get_ref()
                ),
                "shorten step_days or lengthen horizon_days",
            );
        }
    }
    let n_steps = horizon_days.div_ceil(step_days);
    let currency = meta
        .currency
        .as_ref()
        .map_or_else(|| "USD".to_owned(), |c| c.get_ref().clone());
    let per_step = step_days as f64 / 365.0;

    // ---- regions
    let mut region_ids = Ids::new("region");
    let mut regions = Vec::new();
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
        regions.push(Region {
            id: r.id.get_ref().clone(),
            name: r.name.clone().unwrap_or_else(|| r.id.get_ref().clone()),
            governance,
            tags: r.tags.iter().map(|t| t.get_ref().clone()).collect(),
        });
    }

    // ---- materials and the bill of materials
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

    // ---- suppliers
    let mut supplier_ids = Ids::new("supplier");
    for (i, s) in raw.supplier.iter().enumerate() {
        supplier_ids.declare(ck, &s.get_ref().id, &format!("supplier[{i}].id"));
    }
    let mut suppliers = Vec::new();
    for (i, s) in raw.supplier.iter().enumerate() {
        let span = s.span();
        let s = s.get_ref();
        let key = format!("supplier[{i}]");
        let region = region_ids.resolve(ck, &s.region, span.clone(), &format!("{key}.region"));
        let material =
            material_ids.resolve(ck, &s.material, span.clone(), &format!("{key}.material"));
        let capacity = ck.nonneg(
            &s.capacity,
            &format!("{key}.capacity"),
            "units per year; 0 for an idle plant",
        );
        let spare = ck.opt_nonneg(
            &s.spare,
            &format!("{key}.spare"),
            0.0,
            "extra output for new customers as a fraction of capacity, e.g. 0.1",
        );
        let ramp_days = ck.opt_nonneg(
            &s.ramp_days,
            &format!("{key}.ramp_days"),
            0.0,
            "days to bring spare capacity online",
        );
        let priority_regions = s
            .priority_regions
            .iter()
            .filter_map(|r| {
                region_ids
                    .resolve(ck, r, span.clone(), &format!("{key}.priority_regions"))
                    .map(RegionIdx)
            })
            .collect();
        suppliers.push(Supplier {
            id: s.id.get_ref().clone(),
            name: s.name.clone().unwrap_or_else(|| s.id.get_ref().clone()),
            region: RegionIdx(region.unwrap_or(0)),
            material: MaterialIdx(material.unwrap_or(0)),
            capacity: capacity * per_step,
            spare,
            ramp_steps: days_to_steps(ramp_days, step_days),
            input_slots: 0..0,
            out_edges: 0..0,
            priority_regions,
            tags: s.tags.iter().map(|t| t.get_ref().clone()).collect(),
        });
        if region.is_none() || material.is_none() {
            suppliers.last_mut().unwrap().capacity = f64::NAN; // unusable; errors already reported
        }
    }
    if ck.errors() > 0 && materials.is_empty() {
        return None;
    }
    let mut material_suppliers = vec![Vec::new(); materials.len()];
    for (i, s) in suppliers.iter().enumerate() {
        if !s.capacity.is_nan() {
            material_suppliers[s.material.ix()].push(SupplierIdx(i as u32));
        }
    }

    // ---- importers
    let mut importer_ids = Ids::new("importer");
    for (i, imp) in raw.importer.iter().enumerate() {
        importer_ids.declare(ck, &imp.get_ref().id, &format!("importer[{i}].id"));
    }

    // ---- routes and lanes
    let mut route_ids = Ids::new("route");
    let mut routes = Vec::new();
    let mut lanes: BTreeMap<(u32, u32), RouteIdx> = BTreeMap::new();
    for (i, r) in raw.route.iter().enumerate() {
        let span = r.span();
        let r = r.get_ref();
        let key = format!("route[{i}]");
        let idx = route_ids.declare(ck, &r.id, &format!("{key}.id"));
        let lead_days = ck.opt_nonneg(
            &r.lead_days,
            &format!("{key}.lead_days"),
            0.0,
            "days in transit on this route",
        );
        if r.carries.is_empty() {
            ck.err(
                span.clone(),
                format!("{key}.carries"),
                "a route must carry at least one lane",
                "add carries = [{ from = \"TW\", to = \"JP\" }]",
            );
        }
        for (j, lane) in r.carries.iter().enumerate() {
            let lk = format!("{key}.carries[{j}]");
            let l = lane.get_ref();
            let from = region_ids.resolve(ck, &l.from, lane.span(), &format!("{lk}.from"));
            let to = region_ids.resolve(ck, &l.to, lane.span(), &format!("{lk}.to"));
            if let (Some(f), Some(t)) = (from, to) {
                if let Some(prev) = lanes.insert((f, t), RouteIdx(idx)) {
                    ck.err(
                        lane.span(),
                        &lk,
                        format!(
                            "lane {} -> {} is already carried by route `{}`",
                            l.from.get_ref(),
                            l.to.get_ref(),
                            route_ids.list[prev.ix()]
                        ),
                        "a flow takes exactly one route: remove the lane from one of them",
                    );
                }
            }
        }
        routes.push(Route {
            id: r.id.get_ref().clone(),
            name: r.name.clone().unwrap_or_else(|| r.id.get_ref().clone()),
            lead_steps: days_to_steps(lead_days, step_days),
            tags: r.tags.iter().map(|t| t.get_ref().clone()).collect(),
        });
    }

    // ---- cross-kind id clashes (stress tests remove an element by id)
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    let kinds: [(&str, Vec<&Spanned<String>>); 3] = [
        (
            "region",
            raw.region.iter().map(|r| &r.get_ref().id).collect(),
        ),
        (
            "supplier",
            raw.supplier.iter().map(|r| &r.get_ref().id).collect(),
        ),
        ("route", raw.route.iter().map(|r| &r.get_ref().id).collect()),
    ];
    for (kind, list) in &kinds {
        for (i, id) in list.iter().enumerate() {
            match seen.insert(id.get_ref().as_str(), kind) {
                Some(other) if other != *kind => ck.err(
                    id.span(),
                    format!("{kind}[{i}].id"),
                    format!("id `{}` is used by a {other} and a {kind}", id.get_ref()),
                    "regions, suppliers and routes share one namespace (stress tests remove elements by id): rename one",
                ),
                _ => {}
            }
        }
    }

    if ck.errors() > 0 {
        // Later checks would only repeat the same problems through unresolved references.
        return None;
    }

    // ---- slots: supplier inputs, then importer demands
    let mut slots: Vec<Slot> = Vec::new();
    struct SlotSrc<'r> {
        sourcing: Option<&'r Spanned<BTreeMap<String, Spanned<f64>>>>,
        key: String,
        table_span: Range<usize>,
        demand_per_step: f64,
    }
    let mut slot_src: Vec<SlotSrc> = Vec::new();
    for (i, (s, rs)) in suppliers.iter_mut().zip(&raw.supplier).enumerate() {
        let key = format!("supplier[{i}]");
        let r = rs.get_ref();
        let mat = &materials[s.material.ix()];
        check_keys_are(
            ck,
            &r.sourcing,
            &mat.inputs,
            &materials,
            &format!("{key}.sourcing"),
            &format!("an input of `{}`", mat.id),
        );
        check_keys_are(
            ck,
            &r.stock_days,
            &mat.inputs,
            &materials,
            &format!("{key}.stock_days"),
            &format!("an input of `{}`", mat.id),
        );
        let start = slots.len() as u32;
        for &(input, ratio) in &mat.inputs {
            let mid = &materials[input.ix()].id;
            let stock_days = r.stock_days.get(mid).map_or(0.0, |d| {
                ck.nonneg(
                    d,
                    &format!("{key}.stock_days.{mid}"),
                    "days of input use held in stock",
                )
            });
            slots.push(Slot {
                owner: Owner::Supplier(SupplierIdx(i as u32)),
                material: input,
                region: s.region,
                nominal_use: 0.0,
                ratio,
                stock_target: stock_days, // days for now; scaled once steady-state use is known
                stock_initial: stock_days,
                refill_per_step: 0.0,
                pipeline_nominal: 0.0,
                switch_steps: None,
                recycled: 0.0,
                pool: None,
                in_edges: 0..0,
                spot_links: 0..0,
            });
            slot_src.push(SlotSrc {
                sourcing: r.sourcing.get(mid),
                key: format!("{key}.sourcing.{mid}"),
                table_span: rs.span(),
                demand_per_step: 0.0,
            });
        }
        s.input_slots = start..slots.len() as u32;
    }
    let mut importers = Vec::new();
    for (i, ri) in raw.importer.iter().enumerate() {
        let span = ri.span();
        let r = ri.get_ref();
        let key = format!("importer[{i}]");
        let region = region_ids
            .resolve(ck, &r.region, span.clone(), &format!("{key}.region"))
            .map(RegionIdx);
        let switch_steps = r.switch_days.as_ref().map(|d| {
            days_to_steps(
                ck.nonneg(
                    d,
                    &format!("{key}.switch_days"),
                    "days to qualify a new supplier",
                ),
                step_days,
            )
        });
        if r.demand.is_empty() {
            ck.err(
                span.clone(),
                format!("{key}.demand"),
                format!("importer `{}` demands nothing", r.id.get_ref()),
                "add demand = { material_id = <units per year> }",
            );
        }
        let demanded: Vec<(MaterialIdx, f64)> = r
            .demand
            .iter()
            .filter_map(|(name, d)| {
                let k = format!("{key}.demand.{name}");
                let m = material_ids.resolve_name(ck, name, d.span(), &k)?;
                Some((MaterialIdx(m), ck.nonneg(d, &k, "units per year")))
            })
            .collect();
        let dem_list: Vec<(MaterialIdx, f64)> = demanded.iter().map(|&(m, _)| (m, 1.0)).collect();
        check_keys_are(
            ck,
            &r.sourcing,
            &dem_list,
            &materials,
            &format!("{key}.sourcing"),
            "a material this importer demands",
        );
        check_keys_are(
            ck,
            &r.stockpile,
            &dem_list,
            &materials,
            &format!("{key}.stockpile"),
            "a material this importer demands",
        );
        check_keys_are(
            ck,
            &r.recycling,
            &dem_list,
            &materials,
            &format!("{key}.recycling"),
            "a material this importer demands",
        );
        let start = slots.len() as u32;
        for &(m, demand_per_year) in &demanded {
            let mid = &materials[m.ix()].id;
            if material_suppliers[m.ix()].is_empty() {
                let d = &r.demand[mid];
                ck.err(
                    d.span(),
                    format!("{key}.demand.{mid}"),
                    format!(
                        "importer `{}` demands `{mid}` but no supplier produces it",
                        r.id.get_ref()
                    ),
                    format!("add a [[supplier]] with material = \"{mid}\", or remove this demand"),
                );
            }
            let demand = demand_per_year * per_step;
            let recycled = r.recycling.get(mid).map_or(0.0, |v| {
                ck.fraction(
                    v,
                    &format!("{key}.recycling.{mid}"),
                    "share of demand met by recycling",
                )
            });
            let (target, initial, refill) = match r.stockpile.get(mid) {
                None => (0.0, 0.0, 0.0),
                Some(sp) => stockpile(
                    ck,
                    sp,
                    &format!("{key}.stockpile.{mid}"),
                    demand_per_year / 365.0,
                    step_days,
                ),
            };
            slots.push(Slot {
                owner: Owner::Importer(ImporterIdx(i as u32)),
                material: m,
                region: region.unwrap_or(RegionIdx(0)),
                nominal_use: demand,
                ratio: 1.0,
                stock_target: target,
                stock_initial: initial,
                refill_per_step: refill,
                pipeline_nominal: 0.0,
                switch_steps,
                recycled,
                pool: None,
                in_edges: 0..0,
                spot_links: 0..0,
            });
            slot_src.push(SlotSrc {
                sourcing: r.sourcing.get(mid),
                key: format!("{key}.sourcing.{mid}"),
                table_span: span.clone(),
                demand_per_step: demand,
            });
        }
        importers.push(Importer {
            id: r.id.get_ref().clone(),
            name: r.name.clone().unwrap_or_else(|| r.id.get_ref().clone()),
            region: region.unwrap_or(RegionIdx(0)),
            slots: start..slots.len() as u32,
            tags: r.tags.iter().map(|t| t.get_ref().clone()).collect(),
        });
    }

    // ---- contract edges from sourcing shares (default: the world market, pro rata to capacity)
    let mut edges: Vec<Edge> = Vec::new();
    for (si, src) in slot_src.iter().enumerate() {
        let slot = &slots[si];
        let m = slot.material;
        let mid = &materials[m.ix()].id;
        let mut shares: Vec<(SupplierIdx, f64)> = Vec::new();
        match src.sourcing {
            Some(table) => {
                let mut sum = 0.0;
                // A share whose supplier is unknown or wrong still counts towards the sum, so
                // the sum check reports only a real arithmetic problem.
                for (sup, share) in table.get_ref() {
                    let k = format!("{}.{sup}", src.key);
                    let Some(s) = supplier_ids.resolve_name(ck, sup, share.span(), &k) else {
                        sum += share.get_ref();
                        continue;
                    };
                    if suppliers[s as usize].material != m {
                        ck.err(
                            share.span(),
                            &k,
                            format!(
                                "supplier `{sup}` makes `{}`, not `{mid}`",
                                materials[suppliers[s as usize].material.ix()].id
                            ),
                            format!(
                                "list suppliers of `{mid}`: {}",
                                preview(
                                    &material_suppliers[m.ix()]
                                        .iter()
                                        .map(|s| suppliers[s.ix()].id.clone())
                                        .collect::<Vec<_>>()
                                )
                            ),
                        );
                        sum += share.get_ref();
                        continue;
                    }
                    let x = ck.fraction(share, &k, "sourcing share");
                    sum += x;
                    if x > 0.0 {
                        shares.push((SupplierIdx(s), x));
                    }
                }
                if (sum - 1.0).abs() > SHARE_TOLERANCE && !table.get_ref().is_empty() {
                    let (word, by) = if sum > 1.0 {
                        ("over", sum - 1.0)
                    } else {
                        ("short", 1.0 - sum)
                    };
                    ck.err(
                        table.span(),
                        &src.key,
                        format!(
                            "sourcing shares sum to {} ({word} by {}), expected 1",
                            fmt_num(sum),
                            fmt_num(by)
                        ),
                        "shares are fractions of what this buyer orders: make them add up to 1",
                    );
                }
                if table.get_ref().is_empty() {
                    ck.err(table.span(), &src.key, "empty sourcing table", "list at least one supplier with its share, or remove the table to buy from the world market");
                }
            }
            None => {
                let total: f64 = material_suppliers[m.ix()]
                    .iter()
                    .map(|s| suppliers[s.ix()].capacity)
                    .sum();
                if total > 0.0 {
                    for &s in &material_suppliers[m.ix()] {
                        let share = suppliers[s.ix()].capacity / total;
                        if share > 0.0 {
                            shares.push((s, share));
                        }
                    }
                } else if !material_suppliers[m.ix()].is_empty()
                    && (src.demand_per_step > 0.0 || matches!(slot.owner, Owner::Supplier(_)))
                {
                    ck.err(src.table_span.clone(), &src.key, format!("no sourcing given for `{mid}` and its suppliers have no capacity"), format!("add sourcing.{mid} = {{ supplier_id = 1.0 }} or give a supplier capacity"));
                }
            }
        }
        for (s, share) in shares {
            edges.push(Edge {
                supplier: s,
                slot: SlotIdx(si as u32),
                share,
                route: None,
                pipe: None,
            });
        }
    }
    if ck.errors() > 0 {
        return None;
    }
    edges.sort_by_key(|e| (e.supplier, e.slot));
    let mut slot_edges: Vec<EdgeIdx> = Vec::with_capacity(edges.len());
    {
        let mut by_slot: Vec<Vec<EdgeIdx>> = vec![Vec::new(); slots.len()];
        for (ei, e) in edges.iter().enumerate() {
            by_slot[e.slot.ix()].push(EdgeIdx(ei as u32));
        }
        for (si, list) in by_slot.into_iter().enumerate() {
            let start = slot_edges.len() as u32;
            slot_edges.extend(list);
            slots[si].in_edges = start..slot_edges.len() as u32;
        }
        let mut start = 0;
        for (si, s) in suppliers.iter_mut().enumerate() {
            let end = start
                + edges[start..]
                    .iter()
                    .take_while(|e| e.supplier.ix() == si)
                    .count();
            s.out_edges = start as u32..end as u32;
            start = end;
        }
    }

    // ---- steady state: orders flow upstream from importers, use flows back (no shocks)
    let mut edge_flow = vec![0.0; edges.len()];
    let mut slot_use: Vec<f64> = slots
        .iter()
        .map(|s| {
            if matches!(s.owner, Owner::Importer(_)) {
                s.nominal_use * (1.0 - s.recycled)
            } else {
                0.0
            }
        })
        .collect();
    for &m in material_order.iter().rev() {
        // Buyers of m's suppliers are downstream of m, so their use is already known.
        for &s in &material_suppliers[m.ix()] {
            let sup = &suppliers[s.ix()];
            let orders: f64 = sup
                .out_edges
                .clone()
                .map(|e| slot_use[edges[e as usize].slot.ix()] * edges[e as usize].share)
                .sum();
            let planned = orders.min(sup.capacity);
            for slot in sup.input_slots.clone() {
                slot_use[slot as usize] = planned * slots[slot as usize].ratio;
            }
        }
    }
    for (ei, e) in edges.iter().enumerate() {
        edge_flow[ei] = slot_use[e.slot.ix()] * e.share;
    }
    for (si, slot) in slots.iter_mut().enumerate() {
        if let Owner::Supplier(_) = slot.owner {
            let use_ = slot_use[si];
            slot.nominal_use = use_;
            let days = slot.stock_target;
            slot.stock_target = days * use_ / step_days as f64;
            slot.stock_initial = slot.stock_target;
            // Input stocks refill over 30 days.
            slot.refill_per_step = slot.stock_target * step_days as f64 / 30.0;
        }
    }

    // ---- routes and pipes
    let mut pipes: Vec<Pipe> = Vec::new();
    let mut pipe_of: BTreeMap<(u32, u32), PipeIdx> = BTreeMap::new();
    let owner_region = |slot: &Slot| slot.region;
    let mut route_for = |sup: SupplierIdx,
                         slot: SlotIdx,
                         slots: &Vec<Slot>,
                         pipes: &mut Vec<Pipe>|
     -> (Option<RouteIdx>, Option<PipeIdx>) {
        let from = suppliers[sup.ix()].region;
        let to = owner_region(&slots[slot.ix()]);
        let Some(&route) = lanes.get(&(from.0, to.0)) else {
            return (None, None);
        };
        let lead = routes[route.ix()].lead_steps;
        if lead == 0 {
            return (Some(route), None);
        }
        let pipe = *pipe_of.entry((slot.0, route.0)).or_insert_with(|| {
            pipes.push(Pipe {
                slot,
                route,
                lead_steps: lead,
                initial_per_step: 0.0,
            });
            PipeIdx(pipes.len() as u32 - 1)
        });
        (Some(route), Some(pipe))
    };
    for (ei, e) in edges.iter_mut().enumerate() {
        let (route, pipe) = route_for(e.supplier, e.slot, &slots, &mut pipes);
        e.route = route;
        e.pipe = pipe;
        if let Some(p) = pipe {
            pipes[p.ix()].initial_per_step += edge_flow[ei];
        }
    }
    let mut spot_links = Vec::new();
    for si in 0..slots.len() {
        let start = spot_links.len() as u32;
        if slots[si].switch_steps.is_some() {
            for &s in &material_suppliers[slots[si].material.ix()] {
                let (route, pipe) = route_for(s, SlotIdx(si as u32), &slots, &mut pipes);
                spot_links.push(SpotLink {
                    supplier: s,
                    slot: SlotIdx(si as u32),
                    route,
                    pipe,
                });
            }
        }
        slots[si].spot_links = start..spot_links.len() as u32;
    }
    for p in &pipes {
        slots[p.slot.ix()].pipeline_nominal += p.initial_per_step * p.lead_steps as f64;
    }

    // ---- pools
    let mut pool_ids = Ids::new("pool");
    let mut pools = Vec::new();
    for (i, rp) in raw.pool.iter().enumerate() {
        let span = rp.span();
        let p = rp.get_ref();
        let key = format!("pool[{i}]");
        let idx = pool_ids.declare(ck, &p.id, &format!("{key}.id"));
        let Some(m) = material_ids
            .resolve(ck, &p.material, span.clone(), &format!("{key}.material"))
            .map(MaterialIdx)
        else {
            continue;
        };
        let days = ck.nonneg(
            &p.days,
            &format!("{key}.days"),
            "days of the members' combined demand",
        );
        let refill_days = p
            .refill_days
            .as_ref()
            .and_then(|d| {
                ck.positive(
                    d,
                    &format!("{key}.refill_days"),
                    "days to refill the pool from empty",
                )
            })
            .unwrap_or(365.0);
        if p.members.is_empty() {
            ck.err(
                span.clone(),
                format!("{key}.members"),
                "a pool needs at least one member",
                "list importer ids: members = [\"japan\", \"eu\"]",
            );
        }
        let mut members = Vec::new();
        let mut pslots = Vec::new();
        let mut daily = 0.0;
        for mem in &p.members {
            let Some(imp) = importer_ids.resolve(ck, mem, span.clone(), &format!("{key}.members"))
            else {
                continue;
            };
            let Some(slot) = importers[imp as usize]
                .slots
                .clone()
                .find(|&s| slots[s as usize].material == m)
            else {
                ck.err(
                    mem.span(),
                    format!("{key}.members"),
                    format!(
                        "importer `{}` does not demand `{}`",
                        mem.get_ref(),
                        p.material.get_ref()
                    ),
                    "only importers that demand the pool's material can join it",
                );
                continue;
            };
            if let Some(prev) = slots[slot as usize].pool {
                ck.err(
                    mem.span(),
                    format!("{key}.members"),
                    format!(
                        "importer `{}` is already in pool `{}` for `{}`",
                        mem.get_ref(),
                        pools.get(prev.ix()).map_or("?", |p: &Pool| p.id.as_str()),
                        p.material.get_ref()
                    ),
                    "an importer belongs to at most one pool per material",
                );
                continue;
            }
            slots[slot as usize].pool = Some(PoolIdx(idx));
            daily += slots[slot as usize].nominal_use / step_days as f64;
            members.push(ImporterIdx(imp));
            pslots.push(SlotIdx(slot));
        }
        let target = days * daily;
        pools.push(Pool {
            id: p.id.get_ref().clone(),
            name: p.name.clone().unwrap_or_else(|| p.id.get_ref().clone()),
            material: m,
            members,
            slots: pslots,
            stock_target: target,
            refill_per_step: target * step_days as f64 / refill_days,
        });
    }

    let mut model = Model {
        name: meta.name.get_ref().clone(),
        description: meta.description.clone(),
        currency,
        step_days,
        horizon_days,
        n_steps,
        trials: trials as u64,
        seed: seed as u64,
        sustain_steps: days_to_steps(sustain_days as f64, step_days),
        regions,
        materials,
        material_order,
        material_suppliers,
        suppliers,
        importers,
        slots,
        edges,
        slot_edges,
        spot_links,
        routes,
        pipes,
        shocks: Vec::new(),
        pools,
    };

    // ---- shocks
    let ids = IdTables {
        region: &region_ids,
        material: &material_ids,
        supplier: &supplier_ids,
        importer: &importer_ids,
        route: &route_ids,
    };
    let mut shock_ids = Ids::new("shock");
    for (i, s) in raw.shock.iter().enumerate() {
        shock_ids.declare(ck, &s.get_ref().id, &format!("shock[{i}].id"));
    }
    for (i, rs) in raw.shock.iter().enumerate() {
        if let Some(shock) = compile_shock(ck, &model, &ids, &shock_ids, rs, i) {
            model.shocks.push(shock);
        }
    }
    check_trigger_cycles(ck, &model, raw);
    if ck.errors() > 0 {
        return None;
    }
    Some(model)
}

fn fmt_num(x: f64) -> String {
    let s = format!("{x:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_owned()
}

fn stockpile(
    ck: &mut Ck,
    sp: &Spanned<scenario::RawStockpile>,
    key: &str,
    demand_per_day: f64,
    step_days: u32,
) -> (f64, f64, f64) {
    let r = sp.get_ref();
    let Some(days) = &r.days else {
        ck.err(
            sp.span(),
            format!("{key}.days"),
            "a stockpile needs `days`",
            "days of demand held, e.g. { days = 60 }",
        );
        return (0.0, 0.0, 0.0);
    };
    let days = ck.nonneg(days, &format!("{key}.days"), "days of demand held");
    let initial = r.initial_days.as_ref().map_or(days, |d| {
        ck.nonneg(
            d,
            &format!("{key}.initial_days"),
            "days of demand held at the start",
        )
    });
    let refill_days = r
        .refill_days
        .as_ref()
        .and_then(|d| {
            ck.positive(
                d,
                &format!("{key}.refill_days"),
                "days to refill from empty; use refill = false to never refill",
            )
        })
        .unwrap_or(180.0);
    let refill = r.refill.as_ref().is_none_or(|b| *b.get_ref());
    let target = days * demand_per_day;
    let per_step = if refill {
        target * step_days as f64 / refill_days
    } else {
        0.0
    };
    (target, initial * demand_per_day, per_step)
}

/// Keys of a per-material table must name materials from `allowed`.
fn check_keys_are<V>(
    ck: &mut Ck,
    table: &BTreeMap<String, Spanned<V>>,
    allowed: &[(MaterialIdx, f64)],
    materials: &[Material],
    key: &str,
    what: &str,
) {
    for (name, v) in table {
        if !allowed.iter().any(|&(m, _)| materials[m.ix()].id == *name) {
            let names: Vec<&str> = allowed
                .iter()
                .map(|&(m, _)| materials[m.ix()].id.as_str())
                .collect();
            let hint = match did_you_mean(name, names.iter().copied()) {
                Some(b) => format!("did you mean `{b}`?"),
                None if names.is_empty() => "remove this entry".to_owned(),
                None => format!("expected one of: {}", names.join(", ")),
            };
            ck.err(
                v.span(),
                format!("{key}.{name}"),
                format!("`{name}` is not {what}"),
                hint,
            );
        }
    }
}

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

struct IdTables<'a> {
    region: &'a Ids,
    material: &'a Ids,
    supplier: &'a Ids,
    importer: &'a Ids,
    route: &'a Ids,
}

/// Resolve a selector's ids into a set of indices (None when the selector is absent).
fn select(
    ck: &mut Ck,
    sel: &Option<Spanned<OneOrMany>>,
    ids: &Ids,
    key: &str,
) -> Option<BTreeSet<u32>> {
    let sel = sel.as_ref()?;
    let mut out = BTreeSet::new();
    for name in &sel.get_ref().0 {
        if let Some(i) = ids.resolve(ck, name, sel.span(), key) {
            out.insert(i);
        }
    }
    Some(out)
}

fn select_tags(sel: &Option<Spanned<OneOrMany>>) -> Option<BTreeSet<String>> {
    sel.as_ref()
        .map(|s| s.get_ref().0.iter().map(|t| t.get_ref().clone()).collect())
}

fn has_tag(tags: &[String], want: &Option<BTreeSet<String>>) -> bool {
    want.as_ref()
        .is_none_or(|w| tags.iter().any(|t| w.contains(t)))
}

fn in_set(x: u32, set: &Option<BTreeSet<u32>>) -> bool {
    set.as_ref().is_none_or(|s| s.contains(&x))
}

fn forbid(ck: &mut Ck, sel: &Option<Spanned<OneOrMany>>, key: &str, kind: ShockKind) {
    if let Some(s) = sel {
        ck.err(
            s.span(),
            key,
            format!(
                "{} {} shock cannot select by this key",
                if kind == ShockKind::ExportBan {
                    "an"
                } else {
                    "a"
                },
                kind.name()
            ),
            match kind {
                ShockKind::CapacityLoss | ShockKind::ExportBan => {
                    "select suppliers by supplier, region, material or tag"
                }
                ShockKind::RouteClosure => "select routes by route or tag",
                ShockKind::DemandSurge => "select importers by importer, region, material or tag",
            },
        );
    }
}

fn compile_shock(
    ck: &mut Ck,
    model: &Model,
    ids: &IdTables,
    shock_ids: &Ids,
    rs: &Spanned<scenario::RawShock>,
    i: usize,
) -> Option<Shock> {
    let span = rs.span();
    let r = rs.get_ref();
    let key = format!("shock[{i}]");
    let kind = match ShockKind::parse(r.kind.get_ref()) {
        Some(k) => k,
        None => {
            let hint = match did_you_mean(r.kind.get_ref(), ShockKind::NAMES.iter().copied()) {
                Some(b) => format!("did you mean \"{b}\"?"),
                None => format!("one of: {}", ShockKind::NAMES.join(", ")),
            };
            ck.err(
                r.kind.span(),
                format!("{key}.kind"),
                format!("unknown shock kind \"{}\"", r.kind.get_ref()),
                hint,
            );
            return None;
        }
    };
    let t = r.target.get_ref();
    let tk = format!("{key}.target");
    let tspan = r.target.span();
    let errors_before = ck.errors();
    // Selectors a kind does not take are reported once, and their ids are not looked up.
    let takes = |sel: &str| match kind {
        ShockKind::CapacityLoss | ShockKind::ExportBan => !matches!(sel, "route" | "importer"),
        ShockKind::RouteClosure => matches!(sel, "route" | "tag"),
        ShockKind::DemandSurge => !matches!(sel, "supplier" | "route"),
    };
    let pick = |ck: &mut Ck, name: &str, sel: &Option<Spanned<OneOrMany>>, ids: &Ids| {
        if takes(name) {
            select(ck, sel, ids, &format!("{tk}.{name}"))
        } else {
            forbid(ck, sel, &format!("{tk}.{name}"), kind);
            None
        }
    };
    let regions = pick(ck, "region", &t.region, ids.region);
    let mats = pick(ck, "material", &t.material, ids.material);
    let sups = pick(ck, "supplier", &t.supplier, ids.supplier);
    let routes = pick(ck, "route", &t.route, ids.route);
    let imps = pick(ck, "importer", &t.importer, ids.importer);
    let tags = select_tags(&t.tag);

    // Elements the target selects, each one an instance when the shock is independent.
    let mut elements: Vec<Target> = Vec::new();
    match kind {
        ShockKind::CapacityLoss | ShockKind::ExportBan => {
            for (si, s) in model.suppliers.iter().enumerate() {
                if in_set(si as u32, &sups)
                    && in_set(s.region.0, &regions)
                    && in_set(s.material.0, &mats)
                    && has_tag(&s.tags, &tags)
                {
                    elements.push(Target {
                        suppliers: vec![SupplierIdx(si as u32)],
                        ..Target::default()
                    });
                }
            }
        }
        ShockKind::RouteClosure => {
            for (ri, rt) in model.routes.iter().enumerate() {
                if in_set(ri as u32, &routes) && has_tag(&rt.tags, &tags) {
                    elements.push(Target {
                        routes: vec![RouteIdx(ri as u32)],
                        ..Target::default()
                    });
                }
            }
        }
        ShockKind::DemandSurge => {
            for (ii, imp) in model.importers.iter().enumerate() {
                if !(in_set(ii as u32, &imps)
                    && in_set(imp.region.0, &regions)
                    && has_tag(&imp.tags, &tags))
                {
                    continue;
                }
                for s in imp.slots.clone() {
                    if in_set(model.slots[s as usize].material.0, &mats) {
                        elements.push(Target {
                            slots: vec![SlotIdx(s)],
                            ..Target::default()
                        });
                    }
                }
            }
        }
    }
    if t.region.is_none()
        && t.material.is_none()
        && t.supplier.is_none()
        && t.route.is_none()
        && t.importer.is_none()
        && t.tag.is_none()
    {
        ck.err(
            tspan.clone(),
            &tk,
            "the target selects nothing: it has no selector",
            "add supplier, region, material, route, importer or tag",
        );
        return None;
    }
    if ck.errors() > errors_before {
        return None; // the selectors' own errors say what is wrong
    }
    if elements.is_empty() {
        ck.err(
            tspan.clone(),
            &tk,
            format!(
                "the target of shock `{}` selects no {}",
                r.id.get_ref(),
                match kind {
                    ShockKind::RouteClosure => "route",
                    ShockKind::DemandSurge => "importer demand",
                    _ => "supplier",
                }
            ),
            "the selectors are combined with AND: check that some element matches all of them",
        );
        return None;
    }

    // Export bans: which buyers are cut off.
    if let Some(against) = &r.against {
        if kind != ShockKind::ExportBan {
            ck.err(
                against.span(),
                format!("{key}.against"),
                format!(
                    "`against` only applies to export_ban shocks, not {}",
                    kind.name()
                ),
                "remove it",
            );
        }
    }
    if kind == ShockKind::ExportBan {
        let default = RawTarget::default();
        let a = r.against.as_ref().map_or(&default, |a| a.get_ref());
        let ak = format!("{key}.against");
        let errors_before_against = ck.errors();
        let a_regions = select(ck, &a.region, ids.region, &format!("{ak}.region"));
        let a_imps = select(ck, &a.importer, ids.importer, &format!("{ak}.importer"));
        let a_sups = select(ck, &a.supplier, ids.supplier, &format!("{ak}.supplier"));
        let a_tags = select_tags(&a.tag);
        forbid(ck, &a.route, &format!("{ak}.route"), ShockKind::DemandSurge);
        forbid(
            ck,
            &a.material,
            &format!("{ak}.material"),
            ShockKind::DemandSurge,
        );
        let explicit = r.against.is_some();
        let banned = |slot: SlotIdx, from: SupplierIdx| -> bool {
            let s = &model.slots[slot.ix()];
            if !explicit {
                return s.region != model.suppliers[from.ix()].region;
            }
            let region_ok = in_set(s.region.0, &a_regions);
            match s.owner {
                Owner::Importer(ii) => {
                    a_sups.is_none()
                        && region_ok
                        && in_set(ii.0, &a_imps)
                        && has_tag(&model.importers[ii.ix()].tags, &a_tags)
                }
                Owner::Supplier(si) => {
                    a_imps.is_none()
                        && region_ok
                        && in_set(si.0, &a_sups)
                        && has_tag(&model.suppliers[si.ix()].tags, &a_tags)
                }
            }
        };
        let mut any = false;
        for el in &mut elements {
            let s = el.suppliers[0];
            for e in model.suppliers[s.ix()].out_edges.clone() {
                if banned(model.edges[e as usize].slot, s) {
                    el.edges.push(EdgeIdx(e));
                }
            }
            for (li, l) in model.spot_links.iter().enumerate() {
                if l.supplier == s && banned(l.slot, s) {
                    el.spot_links.push(li as u32);
                }
            }
            any |= !el.edges.is_empty() || !el.spot_links.is_empty();
        }
        if ck.errors() > errors_before_against {
            return None; // unknown buyers: their own errors say what is wrong
        }
        if !any {
            let (sp, k) = match &r.against {
                Some(a) => (a.span(), format!("{key}.against")),
                None => (tspan.clone(), format!("{key}.target")),
            };
            ck.err(sp, k, format!("export ban `{}` cuts no flow: none of the targeted suppliers sells to these buyers", r.id.get_ref()), "check `target` and `against`: bans apply to buyers that source from the targeted suppliers");
            return None;
        }
        elements.retain(|e| !e.edges.is_empty() || !e.spot_links.is_empty());
    }

    // Timing.
    let step_days = model.step_days;
    let mut timings = Vec::new();
    if let Some(rate) = &r.rate_per_year {
        let mut x = ck.nonneg(
            rate,
            &format!("{key}.rate_per_year"),
            "expected events per year, e.g. 0.15",
        );
        if x > MAX_RATE_PER_YEAR {
            ck.err(rate.span(), format!("{key}.rate_per_year"), format!("{} events per year is more than one a day ({MAX_RATE_PER_YEAR} per year at most)", crate::diag::num(x)), "for a near-permanent disruption use at_day = 0 with a long duration_days, or a markov process");
            x = 0.0;
        }
        timings.push(Timing::Poisson {
            rate_per_day: x / 365.0,
        });
    }
    if let Some(mk) = &r.markov {
        let m = mk.get_ref();
        let down = ck.fraction(
            &m.down,
            &format!("{key}.markov.down"),
            "probability per step",
        );
        let up = ck.fraction(&m.up, &format!("{key}.markov.up"), "probability per step");
        timings.push(Timing::Markov { down, up });
    }
    if let Some(at) = &r.at_day {
        let x = ck.nonneg(at, &format!("{key}.at_day"), "day of the event, from 0");
        if x >= model.horizon_days as f64 {
            ck.err(
                at.span(),
                format!("{key}.at_day"),
                format!(
                    "day {x} is beyond the horizon ({} days)",
                    model.horizon_days
                ),
                "use a day inside the horizon",
            );
        }
        timings.push(Timing::At {
            step: (x / step_days as f64).floor() as u32,
        });
    }
    if timings.len() > 1 {
        ck.err(
            span.clone(),
            &key,
            "a shock has one timing: rate_per_year, markov or at_day",
            "keep one of them; use triggers to chain events",
        );
    }
    let timing = timings.pop().unwrap_or(Timing::Triggered);

    let duration_days = match (&timing, &r.duration_days) {
        (Timing::Markov { .. }, Some(d)) => {
            ck.err(
                d.span(),
                format!("{key}.duration_days"),
                "a Markov shock's duration follows from `markov.up`",
                "remove duration_days, or use rate_per_year instead of markov",
            );
            None
        }
        (Timing::Markov { .. }, None) => None,
        (_, None) => {
            ck.err(span.clone(), format!("{key}.duration_days"), "missing duration_days", "e.g. duration_days = { dist = \"lognormal\", median = 60, p95 = 365 }, or a fixed number of days");
            None
        }
        (_, Some(d)) => compile_dist(
            ck,
            d,
            &format!("{key}.duration_days"),
            (0.0, f64::INFINITY),
            "days",
        ),
    };
    let severity = match &r.severity {
        None => Dist::fixed(1.0).ok(),
        Some(s) if kind == ShockKind::RouteClosure => {
            ck.err(
                s.span(),
                format!("{key}.severity"),
                "a route is either open or closed: route_closure takes no severity",
                "remove severity",
            );
            None
        }
        Some(s) => {
            let range = if kind == ShockKind::DemandSurge {
                (0.0, f64::INFINITY)
            } else {
                (0.0, 1.0)
            };
            compile_dist(
                ck,
                s,
                &format!("{key}.severity"),
                range,
                if kind == ShockKind::DemandSurge {
                    "extra demand as a fraction (0.3 = +30%)"
                } else {
                    "a fraction of capacity or flow removed, 0..1"
                },
            )
        }
    };
    let recovery_steps = match &r.recovery {
        None => 0,
        Some(rec) => {
            let rr = rec.get_ref();
            let shape = rr.shape.as_ref().map_or("linear", |s| s.get_ref().as_str());
            if !matches!(shape, "linear" | "step") {
                let sp = rr.shape.as_ref().map_or(rec.span(), |s| s.span());
                ck.err(
                    sp,
                    format!("{key}.recovery.shape"),
                    format!("unknown recovery shape \"{shape}\""),
                    "use \"linear\" (severity ramps down over `days`) or \"step\" (back at once)",
                );
            }
            let days = ck.opt_nonneg(
                &rr.days,
                &format!("{key}.recovery.days"),
                0.0,
                "days to ramp back to full service",
            );
            if shape == "step" {
                0
            } else {
                days_to_steps(days, step_days)
            }
        }
    };
    let mut triggers = Vec::new();
    for (j, tr) in r.triggers.iter().enumerate() {
        let t = tr.get_ref();
        let k = format!("{key}.triggers[{j}]");
        let target = shock_ids.resolve(ck, &t.shock, tr.span(), &format!("{k}.shock"));
        let p = ck.fraction(&t.probability, &format!("{k}.probability"), "probability");
        let lag = ck.opt_nonneg(
            &t.lag_days,
            &format!("{k}.lag_days"),
            0.0,
            "days between the parent's start and this event",
        );
        if let Some(ti) = target {
            triggers.push(Trigger {
                shock: ShockIdx(ti),
                probability: p,
                lag_steps: (lag / step_days as f64).round() as u32,
            });
        }
    }
    let independent = r.independent.as_ref().is_some_and(|b| *b.get_ref());
    let instances = if independent {
        elements
    } else {
        let mut all = Target::default();
        for e in elements {
            all.suppliers.extend(e.suppliers);
            all.edges.extend(e.edges);
            all.spot_links.extend(e.spot_links);
            all.routes.extend(e.routes);
            all.slots.extend(e.slots);
        }
        vec![all]
    };
    Some(Shock {
        id: r.id.get_ref().clone(),
        name: r.name.clone().unwrap_or_else(|| r.id.get_ref().clone()),
        kind,
        timing,
        duration_days,
        severity: severity?,
        recovery_steps,
        triggers,
        instances,
        enabled: true,
    })
}

/// Shocks with no timing must be triggered by another; trigger chains may not loop.
fn check_trigger_cycles(ck: &mut Ck, model: &Model, raw: &RawScenario) {
    if model.shocks.len() != raw.shock.len() {
        return; // some shocks failed to compile; indices would not line up
    }
    let n = model.shocks.len();
    let mut triggered = vec![false; n];
    for s in &model.shocks {
        for t in &s.triggers {
            triggered[t.shock.ix()] = true;
        }
    }
    for (i, s) in model.shocks.iter().enumerate() {
        if matches!(s.timing, Timing::Triggered) && !triggered[i] {
            ck.err(raw.shock[i].span(), format!("shock[{i}]"), format!("shock `{}` never fires: it has no timing and no shock triggers it", s.id), "add rate_per_year, markov = { down, up } or at_day, or trigger it from another shock");
        }
    }
    // Depth-first search for a cycle.
    let mut state = vec![0u8; n];
    fn dfs(
        i: usize,
        model: &Model,
        state: &mut [u8],
        stack: &mut Vec<usize>,
    ) -> Option<Vec<usize>> {
        state[i] = 1;
        stack.push(i);
        for t in &model.shocks[i].triggers {
            let j = t.shock.ix();
            if state[j] == 1 {
                let pos = stack.iter().position(|&x| x == j).unwrap();
                return Some(stack[pos..].to_vec());
            }
            if state[j] == 0 {
                if let Some(c) = dfs(j, model, state, stack) {
                    return Some(c);
                }
            }
        }
        stack.pop();
        state[i] = 2;
        None
    }
    for i in 0..n {
        if state[i] == 0 {
            if let Some(cycle) = dfs(i, model, &mut state, &mut Vec::new()) {
                let names: Vec<&str> = cycle.iter().map(|&c| model.shocks[c].id.as_str()).collect();
                ck.err(
                    raw.shock[cycle[0]].span(),
                    format!("shock[{}].triggers", cycle[0]),
                    format!(
                        "triggers form a loop: {} -> {}",
                        names.join(" -> "),
                        names[0]
                    ),
                    "a shock cannot, directly or indirectly, trigger itself: remove one trigger",
                );
                return;
            }
        }
    }
}

/// Validate a distribution; `range` is the support its draws must stay within.
pub(crate) fn compile_dist(
    ck: &mut Ck,
    v: &Spanned<RawDist>,
    key: &str,
    range: (f64, f64),
    what: &str,
) -> Option<Dist> {
    let result: Result<Dist, (Range<usize>, DistError)> = match v.get_ref() {
        RawDist::Fixed(x) => Dist::fixed(*x).map_err(|e| (v.span(), e)),
        RawDist::Spec(spec) => dist_from_spec(spec, v.span()),
    };
    let dist = match result {
        Ok(d) => d,
        Err((span, e)) => {
            let k = if e.key.is_empty() {
                key.to_owned()
            } else {
                format!("{key}.{}", e.key)
            };
            ck.err(span, k, e.message, e.hint);
            return None;
        }
    };
    let (lo, hi) = dist.support();
    if lo < range.0 || hi > range.1 {
        let allowed = if range.1.is_infinite() {
            format!(">= {}", range.0)
        } else {
            format!("within [{}, {}]", range.0, range.1)
        };
        ck.err(
            v.span(),
            key,
            format!(
                "draws must be {allowed} ({what}), but this distribution ranges over [{lo}, {hi}]"
            ),
            if range.1 == 1.0 {
                "use beta, uniform, triangular or pert within [0, 1], or a fixed fraction"
            } else {
                "use a distribution with non-negative support"
            },
        );
        return None;
    }
    Some(dist)
}

fn dist_from_spec(
    s: &scenario::RawDistSpec,
    span: Range<usize>,
) -> Result<Dist, (Range<usize>, DistError)> {
    let Some(name) = &s.dist else {
        return Err((
            span,
            DistError {
                key: "dist",
                message: "a distribution table needs `dist`".into(),
                hint: format!("one of: {}", FAMILIES.join(", ")),
            },
        ));
    };
    // Which parameters each family takes; anything else given is an error.
    let given: Vec<(&'static str, Option<Range<usize>>)> = vec![
        ("value", s.value.as_ref().map(|v| v.span())),
        ("min", s.min.as_ref().map(|v| v.span())),
        ("mode", s.mode.as_ref().map(|v| v.span())),
        ("max", s.max.as_ref().map(|v| v.span())),
        ("mean", s.mean.as_ref().map(|v| v.span())),
        ("sd", s.sd.as_ref().map(|v| v.span())),
        ("median", s.median.as_ref().map(|v| v.span())),
        ("p95", s.p95.as_ref().map(|v| v.span())),
        ("mu", s.mu.as_ref().map(|v| v.span())),
        ("sigma", s.sigma.as_ref().map(|v| v.span())),
        ("shape", s.shape.as_ref().map(|v| v.span())),
        ("scale", s.scale.as_ref().map(|v| v.span())),
        ("values", s.values.as_ref().map(|v| v.span())),
    ];
    let g = |o: &Option<Spanned<f64>>| o.as_ref().map(|v| *v.get_ref());
    let need = |k: &'static str,
                o: &Option<Spanned<f64>>,
                fam: &str|
     -> Result<f64, (Range<usize>, DistError)> {
        g(o).ok_or_else(|| {
            (
                span.clone(),
                DistError {
                    key: k,
                    message: format!("{fam} needs `{k}`"),
                    hint: format!("add {k} = ..."),
                },
            )
        })
    };
    let fam = name.get_ref().as_str();
    let allowed: &[&str] = match fam {
        "fixed" => &["value"],
        "uniform" => &["min", "max"],
        "triangular" | "pert" => &["min", "mode", "max"],
        "exponential" => &["mean"],
        "lognormal" if s.mu.is_some() || s.sigma.is_some() => &["mu", "sigma"],
        "lognormal" => &["median", "p95"],
        "gamma" if s.mean.is_some() || s.sd.is_some() => &["mean", "sd"],
        "gamma" => &["shape", "scale"],
        "beta" => &["mean", "sd"],
        "empirical" => &["values"],
        other => {
            let hint = match did_you_mean(other, FAMILIES.iter().copied()) {
                Some(b) => format!("did you mean \"{b}\"?"),
                None => format!("one of: {}", FAMILIES.join(", ")),
            };
            return Err((
                name.span(),
                DistError {
                    key: "dist",
                    message: format!("unknown distribution \"{other}\""),
                    hint,
                },
            ));
        }
    };
    for (k, sp) in &given {
        if let Some(sp) = sp {
            if !allowed.contains(k) {
                return Err((
                    sp.clone(),
                    DistError {
                        key: k,
                        message: format!("{fam} does not take `{k}`"),
                        hint: format!("{fam} takes: {}", allowed.join(", ")),
                    },
                ));
            }
        }
    }
    let at = |k: &'static str| {
        given
            .iter()
            .find(|(n, _)| *n == k)
            .and_then(|(_, s)| s.clone())
            .unwrap_or(span.clone())
    };
    let r = match fam {
        "fixed" => Dist::fixed(need("value", &s.value, fam)?),
        "uniform" => Dist::new(DistParams::Uniform {
            min: need("min", &s.min, fam)?,
            max: need("max", &s.max, fam)?,
        }),
        "triangular" => Dist::new(DistParams::Triangular {
            min: need("min", &s.min, fam)?,
            mode: need("mode", &s.mode, fam)?,
            max: need("max", &s.max, fam)?,
        }),
        "pert" => Dist::new(DistParams::Pert {
            min: need("min", &s.min, fam)?,
            mode: need("mode", &s.mode, fam)?,
            max: need("max", &s.max, fam)?,
        }),
        "exponential" => Dist::new(DistParams::Exponential {
            mean: need("mean", &s.mean, fam)?,
        }),
        "lognormal" if s.mu.is_some() || s.sigma.is_some() => Dist::new(DistParams::Lognormal {
            mu: need("mu", &s.mu, fam)?,
            sigma: need("sigma", &s.sigma, fam)?,
        }),
        "lognormal" => {
            Dist::lognormal_median_p95(need("median", &s.median, fam)?, need("p95", &s.p95, fam)?)
        }
        "gamma" if s.mean.is_some() || s.sd.is_some() => {
            Dist::gamma_mean_sd(need("mean", &s.mean, fam)?, need("sd", &s.sd, fam)?)
        }
        "gamma" => Dist::new(DistParams::Gamma {
            shape: need("shape", &s.shape, fam)?,
            scale: need("scale", &s.scale, fam)?,
        }),
        "beta" => Dist::beta_mean_sd(need("mean", &s.mean, fam)?, need("sd", &s.sd, fam)?),
        "empirical" => Dist::new(DistParams::Empirical {
            values: s
                .values
                .as_ref()
                .map(|v| v.get_ref().clone())
                .unwrap_or_default(),
        }),
        _ => unreachable!("family checked above"),
    };
    r.map_err(|e| (at(e.key), e))
}
