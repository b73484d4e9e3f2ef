//! Contracts: the edges from suppliers to the slots that buy from them, with their shares.

use std::collections::BTreeMap;
use std::ops::Range;

use super::ck::{fmt_num, preview, Ck, Ids};
use super::network::{Edge, EdgeIdx, Model, Owner, SlotIdx, SupplierIdx};
use crate::scenario::Spanned;

const SHARE_TOLERANCE: f64 = 1e-6;

/// Where a slot's contracts come from: its `sourcing` table as written, if any.
pub(super) struct SlotSource<'r> {
    pub(super) sourcing: Option<&'r Spanned<BTreeMap<String, Spanned<f64>>>>,
    pub(super) key: String,
    pub(super) table_span: Range<usize>,
    pub(super) demand_per_step: f64,
}

/// Add one contract edge per supplier a slot buys from, from its sourcing shares (default: the
/// world market, pro rata to capacity). `sources` lines up with the model's slots.
pub(super) fn compile_contracts(
    ck: &mut Ck,
    model: &mut Model,
    supplier_ids: &Ids,
    sources: &[SlotSource],
) {
    let mut edges: Vec<Edge> = Vec::new();
    for (si, src) in sources.iter().enumerate() {
        let slot = &model.slots[si];
        let m = slot.material;
        let mid = &model.materials[m.ix()].id;
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
                    if model.suppliers[s as usize].material != m {
                        ck.err(
                            share.span(),
                            &k,
                            format!(
                                "supplier `{sup}` makes `{}`, not `{mid}`",
                                model.materials[model.suppliers[s as usize].material.ix()].id
                            ),
                            format!(
                                "list suppliers of `{mid}`: {}",
                                preview(
                                    &model.material_suppliers[m.ix()]
                                        .iter()
                                        .map(|s| model.suppliers[s.ix()].id.clone())
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
                let total: f64 = model.material_suppliers[m.ix()]
                    .iter()
                    .map(|s| model.suppliers[s.ix()].capacity)
                    .sum();
                if total > 0.0 {
                    for &s in &model.material_suppliers[m.ix()] {
                        let share = model.suppliers[s.ix()].capacity / total;
                        if share > 0.0 {
                            shares.push((s, share));
                        }
                    }
                } else if !model.material_suppliers[m.ix()].is_empty()
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
    model.edges = edges;
}

/// Sort the edges by supplier, and give each slot its incoming and each supplier its outgoing
/// range of them.
pub(super) fn index_edges(model: &mut Model) {
    let edges = &mut model.edges;
    edges.sort_by_key(|e| (e.supplier, e.slot));
    let mut slot_edges: Vec<EdgeIdx> = Vec::with_capacity(edges.len());
    {
        let mut by_slot: Vec<Vec<EdgeIdx>> = vec![Vec::new(); model.slots.len()];
        for (ei, e) in edges.iter().enumerate() {
            by_slot[e.slot.ix()].push(EdgeIdx(ei as u32));
        }
        for (si, list) in by_slot.into_iter().enumerate() {
            let start = slot_edges.len() as u32;
            slot_edges.extend(list);
            model.slots[si].in_edges = start..slot_edges.len() as u32;
        }
        let mut start = 0;
        for (si, s) in model.suppliers.iter_mut().enumerate() {
            let end = start
                + edges[start..]
                    .iter()
                    .take_while(|e| e.supplier.ix() == si)
                    .count();
            s.out_edges = start as u32..end as u32;
            start = end;
        }
    }
    model.slot_edges = slot_edges;
}
