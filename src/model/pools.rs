//! Pools: stock held in common by importers of one material.

use super::ck::{Ck, IdTables, Ids};
use super::network::{ImporterIdx, MaterialIdx, Model, Pool, PoolIdx, SlotIdx};
use crate::scenario::RawScenario;

/// Add the pools to the model, sized on their members' steady-state demand.
pub(super) fn compile_pools(raw: &RawScenario, ck: &mut Ck, model: &mut Model, ids: &IdTables) {
    let mut pool_ids = Ids::new("pool");
    for (i, rp) in raw.pool.iter().enumerate() {
        let span = rp.span();
        let p = rp.get_ref();
        let key = format!("pool[{i}]");
        let idx = pool_ids.declare(ck, &p.id, &format!("{key}.id"));
        let Some(m) = ids
            .material
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
            let Some(imp) = ids
                .importer
                .resolve(ck, mem, span.clone(), &format!("{key}.members"))
            else {
                continue;
            };
            let Some(slot) = model.importers[imp as usize]
                .slots
                .clone()
                .find(|&s| model.slots[s as usize].material == m)
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
            if let Some(prev) = model.slots[slot as usize].pool {
                ck.err(
                    mem.span(),
                    format!("{key}.members"),
                    format!(
                        "importer `{}` is already in pool `{}` for `{}`",
                        mem.get_ref(),
                        model
                            .pools
                            .get(prev.ix())
                            .map_or("?", |p: &Pool| p.id.as_str()),
                        p.material.get_ref()
                    ),
                    "an importer belongs to at most one pool per material",
                );
                continue;
            }
            model.slots[slot as usize].pool = Some(PoolIdx(idx));
            daily += model.slots[slot as usize].nominal_use / model.step_days as f64;
            members.push(ImporterIdx(imp));
            pslots.push(SlotIdx(slot));
        }
        let target = days * daily;
        let (refill_below, release_above) = ck.stock_thresholds(
            p.refill_below.as_ref(),
            p.release_above.as_ref(),
            &key,
            &model.materials[m.ix()],
        );
        model.pools.push(Pool {
            id: p.id.get_ref().clone(),
            name: p.name.clone().unwrap_or_else(|| p.id.get_ref().clone()),
            material: m,
            members,
            slots: pslots,
            stock_target: target,
            refill_per_step: target * model.step_days as f64 / refill_days,
            refill_below,
            release_above,
        });
    }
}
