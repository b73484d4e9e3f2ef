//! Shock targets: which suppliers, routes or importer demands a shock hits, and for export
//! bans, which buyers are cut off.

use std::collections::BTreeSet;

use super::ck::{Ck, IdTables, Ids};
use super::network::{EdgeIdx, Model, Owner, RouteIdx, ShockKind, SlotIdx, SupplierIdx, Target};
use crate::scenario::{OneOrMany, RawShock, RawTarget, Spanned};

/// The elements a shock's target selects, each one an instance when the shock is independent.
/// None when the target is wrong or selects nothing (the problem is reported).
pub(super) fn select_targets(
    ck: &mut Ck,
    model: &Model,
    ids: &IdTables,
    r: &RawShock,
    key: &str,
    kind: ShockKind,
) -> Option<Vec<Target>> {
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
    let regions = pick(ck, "region", &t.region, &ids.region);
    let mats = pick(ck, "material", &t.material, &ids.material);
    let sups = pick(ck, "supplier", &t.supplier, &ids.supplier);
    let routes = pick(ck, "route", &t.route, &ids.route);
    let imps = pick(ck, "importer", &t.importer, &ids.importer);
    let tags = select_tags(&t.tag);
    let elements = matching_elements(
        model,
        kind,
        &Selection {
            regions,
            mats,
            sups,
            routes,
            imps,
            tags,
        },
    );
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
    Some(elements)
}

/// A target's selectors resolved to indices; None means "any".
struct Selection {
    regions: Option<BTreeSet<u32>>,
    mats: Option<BTreeSet<u32>>,
    sups: Option<BTreeSet<u32>>,
    routes: Option<BTreeSet<u32>>,
    imps: Option<BTreeSet<u32>>,
    tags: Option<BTreeSet<String>>,
}

/// Every element of the kind's sort that matches all the selectors, one target each.
fn matching_elements(model: &Model, kind: ShockKind, sel: &Selection) -> Vec<Target> {
    let Selection {
        regions,
        mats,
        sups,
        routes,
        imps,
        tags,
    } = sel;
    let mut elements: Vec<Target> = Vec::new();
    match kind {
        ShockKind::CapacityLoss | ShockKind::ExportBan => {
            for (si, s) in model.suppliers.iter().enumerate() {
                if in_set(si as u32, sups)
                    && in_set(s.region.0, regions)
                    && in_set(s.material.0, mats)
                    && has_tag(&s.tags, tags)
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
                if in_set(ri as u32, routes) && has_tag(&rt.tags, tags) {
                    elements.push(Target {
                        routes: vec![RouteIdx(ri as u32)],
                        ..Target::default()
                    });
                }
            }
        }
        ShockKind::DemandSurge => {
            for (ii, imp) in model.importers.iter().enumerate() {
                if !(in_set(ii as u32, imps)
                    && in_set(imp.region.0, regions)
                    && has_tag(&imp.tags, tags))
                {
                    continue;
                }
                for s in imp.slots.clone() {
                    if in_set(model.slots[s as usize].material.0, mats) {
                        elements.push(Target {
                            slots: vec![SlotIdx(s)],
                            ..Target::default()
                        });
                    }
                }
            }
        }
    }
    elements
}

/// Export bans: keep on each targeted supplier only the contract edges and spot links to the
/// buyers it is banned from selling to. None when `against` is wrong or nothing is cut (the
/// problem is reported).
pub(super) fn ban_flows(
    ck: &mut Ck,
    model: &Model,
    ids: &IdTables,
    r: &RawShock,
    key: &str,
    kind: ShockKind,
    mut elements: Vec<Target>,
) -> Option<Vec<Target>> {
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
        let a_regions = select(ck, &a.region, &ids.region, &format!("{ak}.region"));
        let a_imps = select(ck, &a.importer, &ids.importer, &format!("{ak}.importer"));
        let a_sups = select(ck, &a.supplier, &ids.supplier, &format!("{ak}.supplier"));
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
                None => (r.target.span(), format!("{key}.target")),
            };
            ck.err(sp, k, format!("export ban `{}` cuts no flow: none of the targeted suppliers sells to these buyers", r.id.get_ref()), "check `target` and `against`: bans apply to buyers that source from the targeted suppliers");
            return None;
        }
        elements.retain(|e| !e.edges.is_empty() || !e.spot_links.is_empty());
    }
    Some(elements)
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
