//! Quota counts for the whole process: one [`QuotaCell`] per (usage plan, API key) by name, kept
//! across reloads, saved to the state file every second (when something changed) by a thread of
//! its own (write, fsync, rename), and read back at start. Counts of plans the current table lacks
//! stay in the file. A missing file starts from zero; a corrupt one is reported,
//! moved aside, and the gateway starts from zero rather than not at all.
//!
//! Loss bound: counts are saved once a second and leases count as used when taken, so a crash
//! (`kill -9`) forgets at most the requests admitted in the last second before it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::quota::{Count, QuotaCell, Saved};
use crate::table::{QuotaPeriod, Table};

/// How often counts are saved.
pub const SAVE_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Default)]
pub struct QuotaStore {
    cells: Mutex<HashMap<(String, String), Arc<QuotaCell>>>,
    restored: Mutex<HashMap<(String, String), (QuotaPeriod, Saved)>>,
    path: Mutex<Option<String>>,
    /// A hash of the last file written, so an unchanged state is not written (and fsync'd) again.
    last_written: Mutex<Option<u64>>,
}

#[derive(Serialize, Deserialize)]
struct StateFile {
    format: String,
    version: u32,
    counts: Vec<SavedCount>,
}

#[derive(Serialize, Deserialize)]
struct SavedCount {
    plan: String,
    key: String,
    period_kind: QuotaPeriod,
    period: u64,
    used: u64,
    /// Fleet mode: admitted while Redis was unreachable and not reported to it yet.
    #[serde(default)]
    unreported: u64,
    /// Per UTC day (days since the epoch): requests leased that day.
    #[serde(default)]
    days: Vec<(u64, u64)>,
}

const FORMAT: &str = "portico-quota-state";

impl QuotaStore {
    /// Reads the state file (at start).
    pub fn open(path: &str) -> QuotaStore {
        let store = QuotaStore::default();
        store.attach(path);
        store
    }

    /// Starts saving to `path`, after reading what it holds, unless a file is in use already (a
    /// reload that first adds a quota attaches one; a reload cannot move it).
    pub fn attach(&self, path: &str) {
        let mut current = self.path.lock().unwrap_or_else(|p| p.into_inner());
        match current.as_deref() {
            Some(p) if p == path => return,
            Some(p) => {
                log::warn!("quota state file stays {p}: a changed `[quota] state_file` takes effect at restart");
                return;
            }
            None => {}
        }
        // Read before the path is set (the lock is held throughout), so the saver cannot write
        // over a file that has not been read yet.
        match std::fs::read_to_string(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                log::info!("quota state {path}: none yet; counting from zero");
            }
            Err(e) => log::error!("quota state {path}: cannot read it ({e}); counting from zero"),
            Ok(text) => match serde_json::from_str::<StateFile>(&text) {
                Ok(state) if state.format == FORMAT && state.version == 1 => {
                    let mut restored = self.restored.lock().unwrap_or_else(|p| p.into_inner());
                    for c in state.counts {
                        let saved = Saved {
                            count: Count { period: c.period, used: c.used },
                            unreported: c.unreported,
                            days: c.days,
                        };
                        restored.insert((c.plan, c.key), (c.period_kind, saved));
                    }
                    log::info!("quota state {path}: {} counts restored", restored.len());
                }
                Ok(_) | Err(_) => {
                    let aside = format!("{path}.corrupt");
                    let moved = std::fs::rename(path, &aside).is_ok();
                    log::error!(
                        "quota state {path} is not a valid state file{}; counting from zero",
                        if moved { format!(" (moved to {aside})") } else { String::new() }
                    );
                }
            },
        }
        *current = Some(path.to_owned());
    }

    /// The cells a table's plans use, by (plan index, key index); created on first use, restored
    /// from the state file when it has them, kept across reloads while plan, key, limit, period and
    /// mode stay.
    pub fn cells_for(&self, table: &Table, workers: usize) -> HashMap<(u32, u32), Arc<QuotaCell>> {
        let mut cells = self.cells.lock().unwrap_or_else(|p| p.into_inner());
        let restored = self.restored.lock().unwrap_or_else(|p| p.into_inner());
        let now = super::wall_s();
        let mut out = HashMap::new();
        for (p, plan) in table.usage_plans.iter().enumerate() {
            let Some(quota) = &plan.quota else { continue };
            let fleet = table.settings.cluster.as_ref().map(|_| plan.on_redis_failure);
            for &k in &plan.keys {
                let name = (plan.name.clone(), table.api_keys[k as usize].name.clone());
                let cell = match cells.get(&name) {
                    Some(c) if c.limit == quota.limit && c.period == quota.period && c.fleet == fleet => c.clone(),
                    existing => {
                        let carried = existing.filter(|c| c.period == quota.period).map(|c| c.saved(now));
                        let saved =
                            restored.get(&name).filter(|(kind, _)| *kind == quota.period).map(|(_, c)| c.clone());
                        // Fleet mode applies the offset in Redis, once for the whole fleet.
                        let start = carried.or(saved).or_else(|| {
                            let period = super::quota::period_of(quota.period, now);
                            (quota.offset > 0 && fleet.is_none())
                                .then(|| Saved { count: Count { period, used: quota.offset }, ..Default::default() })
                        });
                        let cell = Arc::new(QuotaCell::new(name.clone(), quota, fleet, start, workers));
                        cells.insert(name, cell.clone());
                        cell
                    }
                };
                out.insert((p as u32, k), cell);
            }
        }
        out
    }

    /// Every cell, for the fleet thread.
    pub fn all(&self) -> Vec<Arc<QuotaCell>> {
        self.cells.lock().unwrap_or_else(|p| p.into_inner()).values().cloned().collect()
    }

    /// Writes every count: to a temporary file, fsync, rename (a crash leaves the old or the new).
    pub fn save(&self) -> std::io::Result<()> {
        let Some(path) = self.path.lock().unwrap_or_else(|p| p.into_inner()).clone() else { return Ok(()) };
        let now = super::wall_s();
        let cells = self.cells.lock().unwrap_or_else(|p| p.into_inner());
        let live = cells.iter().map(|(name, cell)| (name, cell.period, cell.saved(now)));
        // Counts read at start for plans or keys the current table does not have are kept, so a
        // config that drops a plan for a while does not lose its counts.
        let restored = self.restored.lock().unwrap_or_else(|p| p.into_inner());
        let dormant =
            restored.iter().filter(|(name, _)| !cells.contains_key(*name)).map(|(n, (k, s))| (n, *k, s.clone()));
        let mut counts: Vec<SavedCount> = live
            .chain(dormant)
            .map(|((plan, key), period_kind, saved)| SavedCount {
                plan: plan.clone(),
                key: key.clone(),
                period_kind,
                period: saved.count.period,
                used: saved.count.used,
                unreported: saved.unreported,
                days: saved.days,
            })
            .collect();
        drop((cells, restored));
        counts.sort_by(|a, b| (&a.plan, &a.key).cmp(&(&b.plan, &b.key)));
        let state = StateFile { format: FORMAT.into(), version: 1, counts };
        let text = serde_json::to_vec(&state).map_err(std::io::Error::other)?;
        let hash = ahash::RandomState::with_seeds(1, 2, 3, 4).hash_one(&text);
        let mut last = self.last_written.lock().unwrap_or_else(|p| p.into_inner());
        if *last == Some(hash) {
            return Ok(());
        }
        let tmp = format!("{path}.tmp");
        // The default folder (~/.local/state/portico, ...) may not exist yet.
        if let Some(dir) = std::path::Path::new(&path).parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir)?;
        }
        {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&text)?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, &path)?;
        *last = Some(hash);
        Ok(())
    }

    /// Saves every [`SAVE_INTERVAL`] on a thread of its own, until the process ends.
    pub fn start_saver(self: &Arc<Self>) {
        let store = self.clone();
        let spawned = std::thread::Builder::new().name("portico-quota".into()).spawn(move || {
            let mut failing = false;
            loop {
                std::thread::sleep(SAVE_INTERVAL);
                match store.save() {
                    Ok(()) if failing => {
                        log::info!("quota state saved again");
                        failing = false;
                    }
                    Ok(()) => {}
                    Err(e) if !failing => {
                        log::error!("quota state cannot be saved: {e}; counts since the last save are lost on a crash");
                        failing = true;
                    }
                    Err(_) => {}
                }
            }
        });
        if let Err(e) = spawned {
            log::error!("cannot start the quota saver: {e}");
        }
    }

    /// The cells of a plan, by key name.
    pub fn plan_cells(&self, plan: &str) -> Vec<Arc<QuotaCell>> {
        let mut out: Vec<_> = self
            .cells
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|((p, _), _)| p == plan)
            .map(|(_, cell)| cell.clone())
            .collect();
        out.sort_by(|a, b| a.key.cmp(&b.key));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(plans: &[&str]) -> Table {
        let mut src = String::from(
            "[[api]]\nname = \"a\"\nprotocol = \"rest\"\n[[api.stage]]\nname = \"s\"\n[[api.route]]\nkey = \"GET /\"\napi_key_required = true\nintegration = { type = \"mock\" }\n[[api_key]]\nname = \"k\"\nvalue = \"0123456789abcdefghij\"\n",
        );
        for p in plans {
            src += &format!(
                "[[usage_plan]]\nname = \"{p}\"\napi_stages = [{{ api = \"a\", stage = \"s\" }}]\nkeys = [\"k\"]\nquota = {{ limit = 100, period = \"MONTH\" }}\n"
            );
        }
        crate::config::compile_str("t.toml", &src).unwrap()
    }

    #[test]
    fn counts_of_plans_missing_from_the_table_are_kept_and_unchanged_state_is_not_rewritten() {
        let dir = std::env::temp_dir().join(format!("portico-quota-store-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("state.json").to_str().unwrap().to_owned();
        let _ = std::fs::remove_file(&path);

        let store = QuotaStore::open(&path);
        let cells = store.cells_for(&table(&["gold"]), 1);
        cells[&(0, 0)].lease(super::super::wall_s(), 7, false);
        store.save().unwrap();

        // A restart with a config that no longer has `gold` (only `silver`) keeps gold's count.
        let store = QuotaStore::open(&path);
        let cells = store.cells_for(&table(&["silver"]), 1);
        cells[&(0, 0)].lease(super::super::wall_s(), 2, false);
        store.save().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("\"gold\"") && text.contains("\"silver\""), "{text}");
        // And when gold comes back, it continues from 7.
        let store = QuotaStore::open(&path);
        let cells = store.cells_for(&table(&["gold"]), 1);
        assert_eq!(cells[&(0, 0)].count(super::super::wall_s()).used, 7);

        // Nothing changed since the last write: nothing is written (the file stays deleted).
        store.save().unwrap();
        std::fs::remove_file(&path).unwrap();
        store.save().unwrap();
        assert!(!std::path::Path::new(&path).exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
