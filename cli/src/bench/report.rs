//! The markdown table, with ratios to each layout's baseline and the
//! issue's targets checked on the localsock rows.

use std::fmt::Write as _;

use super::run::{Counts, Layout, Lib, Outcome, Results, Sample, Workload};

/// Throughput a localsock row must keep, relative to its raw baseline.
const MIN_THROUGHPUT: f64 = 0.95;
/// Round-trip time a localsock row may take, relative to its baseline.
const MAX_RTT: f64 = 1.10;
/// With 4 KiB writes, coalescing must lift localsock this far above raw.
const MIN_COALESCED: f64 = 1.5;
/// E: peak RSS may grow this much more than the raw reader's (MiB).
const FLAT_SLACK_MIB: f64 = 4.0;

/// Under the tables that show a spread (D, F).
const SPREAD_NOTE: &str = "Higher is better: a ratio above 1× means localsock completes more per second than the raw baseline. \
\"× raw, medians\" is the row's median over the baseline's median; \"× raw, per round\" the median of the per-round ratios (the targets use it). \
Spread: the lowest and highest of the rounds, and that range as a percentage of the median.";

enum Cell {
    Ok(Sample),
    Failed(String),
    Skipped(String),
    Missing,
}

fn pick(results: &Results, w: Workload, layout: Layout, lib: Lib) -> Cell {
    let Some(v) = results.get(&(w, layout, lib)) else {
        return Cell::Missing;
    };
    let mut ok: Vec<Sample> = v
        .iter()
        .filter_map(|o| match o {
            Outcome::Ok(s) => Some(*s),
            _ => None,
        })
        .collect();
    if !ok.is_empty() {
        ok.sort_by(|a, b| a.primary().total_cmp(&b.primary()));
        return Cell::Ok(ok[ok.len() / 2]);
    }
    for o in v {
        if let Outcome::Failed(e) = o {
            return Cell::Failed(e.clone());
        }
    }
    for o in v {
        if let Outcome::Skipped(e) = o {
            return Cell::Skipped(e.clone());
        }
    }
    Cell::Missing
}

/// The primary values (bigger is better) of a row's successful rounds.
fn primaries(results: &Results, w: Workload, layout: Layout, lib: Lib) -> Vec<f64> {
    results
        .get(&(w, layout, lib))
        .map(|v| {
            v.iter()
                .filter_map(|o| match o {
                    Outcome::Ok(s) => Some(s.primary()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The spread of a row's rounds: `min–max (r%)`, the range as a
/// percentage of the median `med`; "–" with fewer than two rounds.
fn spread(values: &[f64], med: f64, show: fn(f64) -> String) -> String {
    if values.len() < 2 {
        return "–".into();
    }
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let pct = if med > 0.0 {
        format!(" ({:.0}%)", (max - min) / med * 100.0)
    } else {
        String::new()
    };
    format!("{}–{}{pct}", show(min), show(max))
}

/// `lib`'s median over the baseline's median (the medians [`pick`]
/// shows), of the primary value: above 1 is better for `lib`.
fn ratio_of_medians(results: &Results, w: Workload, layout: Layout, lib: Lib) -> Option<f64> {
    match (
        pick(results, w, layout, lib),
        pick(results, w, layout, Lib::Raw),
    ) {
        (Cell::Ok(a), Cell::Ok(b)) => ratio(a.primary(), b.primary()),
        _ => None,
    }
}

/// "median of 5 interleaved rounds", for a table's heading.
fn rounds(n: usize) -> String {
    if n == 1 {
        "one round".into()
    } else {
        format!("median of {n} interleaved rounds")
    }
}

fn ratio(a: f64, b: f64) -> Option<f64> {
    (b > 0.0 && a.is_finite()).then(|| a / b)
}

/// `lib` against `base` in the same layout: the median over rounds of
/// `value(lib's run) / value(base's run)`, pairing the runs of one round
/// (made one right after the other). On a shared machine whose speed drifts
/// between rounds, this is steadier than a ratio of two medians. `None`
/// when no round has both runs.
fn paired(
    results: &Results,
    w: Workload,
    layout: Layout,
    (lib, base): (Lib, Lib),
    value: fn(&Sample) -> f64,
) -> Option<f64> {
    let (a, b) = (
        results.get(&(w, layout, lib))?,
        results.get(&(w, layout, base))?,
    );
    let mut ratios: Vec<f64> = a
        .iter()
        .zip(b)
        .filter_map(|pair| match pair {
            (Outcome::Ok(x), Outcome::Ok(y)) => ratio(value(x), value(y)),
            _ => None,
        })
        .collect();
    if ratios.is_empty() {
        return None;
    }
    ratios.sort_by(f64::total_cmp);
    let n = ratios.len();
    Some(if n % 2 == 1 {
        ratios[n / 2]
    } else {
        (ratios[n / 2 - 1] + ratios[n / 2]) / 2.0
    })
}

/// Round trips per second (A), GiB/s (B, E), connections per second (D),
/// completions per second (C): bigger is better.
fn rate(s: &Sample) -> f64 {
    s.primary()
}

/// A's median round-trip time.
fn median_rtt(s: &Sample) -> f64 {
    match s {
        Sample::A(p) => p.median_us,
        _ => f64::NAN,
    }
}

fn x(r: Option<f64>) -> String {
    match r {
        Some(r) => format!("{r:.2}×"),
        None => "–".into(),
    }
}

fn kilo(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.1}k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

fn check(ok: bool, text: String) -> String {
    format!("{} {text}", if ok { "✓" } else { "✗" })
}

/// The rows of one table: per layout, per library, the sample or why not.
struct Table<'a> {
    out: &'a mut String,
    misses: &'a mut Vec<String>,
    /// Targets checked so far.
    checked: usize,
    /// A `--quick` run: too few operations to judge a target, so none is
    /// checked (the column says so).
    quick: bool,
}

impl Table<'_> {
    fn head(&mut self, title: &str, columns: &[&str]) {
        self.head_with_note(title, "", columns);
    }

    /// A table heading, a paragraph under it (if any), the column heads.
    fn head_with_note(&mut self, title: &str, note: &str, columns: &[&str]) {
        let _ = writeln!(self.out, "\n### {title}\n");
        if !note.is_empty() {
            let _ = writeln!(self.out, "{note}\n");
        }
        let _ = writeln!(
            self.out,
            "| layout | implementation | {} |",
            columns.join(" | ")
        );
        let _ = writeln!(
            self.out,
            "|---|---|{}---|",
            "---:|".repeat(columns.len().saturating_sub(1))
        );
    }

    fn row(&mut self, layout: Layout, lib: Lib, cells: &[String]) {
        let _ = writeln!(
            self.out,
            "| {} | {} | {} |",
            layout.label(),
            lib.label(layout),
            cells.join(" | ")
        );
    }

    fn not_run(&mut self, layout: Layout, lib: Lib, cell: &Cell, columns: usize) {
        let text = match cell {
            Cell::Failed(e) => format!("failed: {}", e.replace('|', "/")),
            Cell::Skipped(e) => format!("n/a: {}", e.replace('|', "/")),
            // Not selected (`--libs`): no row.
            Cell::Ok(_) | Cell::Missing => return,
        };
        let mut cells = vec![text];
        cells.resize(columns, String::new());
        self.row(layout, lib, &cells);
        if lib.is_localsock() && !matches!(cell, Cell::Skipped(_)) {
            self.misses.push(format!(
                "{} on {}: did not run",
                lib.label(layout).replace('*', ""),
                layout.label()
            ));
        }
    }

    fn targets(
        &mut self,
        layout: Layout,
        lib: Lib,
        w: &str,
        checks: Vec<(bool, String)>,
        has_baseline: bool,
    ) -> String {
        // Without the baseline (rows filtered out) there is nothing to compare.
        if !lib.is_localsock() || !has_baseline {
            return String::new();
        }
        if self.quick {
            return "not checked (--quick)".to_string();
        }
        self.checked += checks.len();
        for (ok, text) in &checks {
            if !ok {
                self.misses.push(format!("{w}, {}: {text}", layout.label()));
            }
        }
        checks
            .into_iter()
            .map(|(ok, t)| check(ok, t))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|r| r.trim_start_matches([' ', '\t', ':']).to_string())
            })
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let n = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| format!("Linux {}", s.trim()))
        .unwrap_or_else(|_| std::env::consts::OS.to_string());
    format!("{cpu}, {n} CPUs, {kernel}")
}

/// Renders every table and the list of missed targets.
pub fn render(results: &Results, layouts: &[Layout], workloads: &[Workload], c: &Counts) -> String {
    let mut out = String::new();
    let mut misses = Vec::new();
    let _ = writeln!(
        out,
        "## localsock benchmark{}\n\nMachine: {}. Build: {}. Ratios are to the raw socket of the same layout, measured in the same run{}.",
        if c.quick { " (--quick: small counts, timings not meaningful)" } else { "" },
        machine(),
        if cfg!(debug_assertions) { "debug (timings not meaningful)" } else { "release" },
        if c.reps > 1 {
            format!(
                "; each row is the median of {} interleaved rounds ({} for C), and each ratio the median of the per-round ratios (a row against the run of the same round)",
                c.reps, c.c_reps
            )
        } else {
            String::new()
        }
    );
    let mut t = Table {
        out: &mut out,
        misses: &mut misses,
        checked: 0,
        quick: c.quick,
    };

    // ----- A
    if workloads.contains(&Workload::A) {
        t.head(
            &format!(
                "A · 64-byte ping-pong: {} round trips after {} warm-up",
                c.a_n, c.a_warmup
            ),
            &[
                "median µs",
                "p99 µs",
                "round trips/s",
                "× RT/s",
                "× median",
                "targets",
            ],
        );
        for &layout in layouts {
            let base = match pick(results, Workload::A, layout, Lib::Raw) {
                Cell::Ok(Sample::A(p)) => Some(p),
                _ => None,
            };
            for lib in layout.libs(Workload::A) {
                let vs = |other, f| paired(results, Workload::A, layout, (lib, other), f);
                match pick(results, Workload::A, layout, lib) {
                    Cell::Ok(Sample::A(p)) => {
                        let thr = vs(Lib::Raw, rate);
                        let rtt = vs(Lib::Raw, median_rtt);
                        let mut checks = vec![
                            (
                                thr.is_some_and(|r| r >= MIN_THROUGHPUT),
                                format!("RT/s ≥ {MIN_THROUGHPUT}×"),
                            ),
                            (
                                rtt.is_some_and(|r| r <= MAX_RTT),
                                format!("median ≤ {MAX_RTT}×"),
                            ),
                        ];
                        if let Some(r) = vs(Lib::Interprocess, rate) {
                            checks.push((r > 1.0, "ahead of interprocess".into()));
                        }
                        let targets = t.targets(layout, lib, "A ping-pong", checks, base.is_some());
                        t.row(
                            layout,
                            lib,
                            &[
                                format!("{:.2}", p.median_us),
                                format!("{:.2}", p.p99_us),
                                kilo(p.per_s),
                                x(thr),
                                x(rtt),
                                targets,
                            ],
                        );
                    }
                    cell => t.not_run(layout, lib, &cell, 6),
                }
            }
        }
    }

    // ----- B
    if workloads.contains(&Workload::B64) || workloads.contains(&Workload::B4) {
        t.head(
        &format!(
            "B · bulk: {} MiB in 64 KiB and in 4 KiB writes; the reader counts and discards (64 KiB reads)",
            c.b_bytes >> 20
        ),
        &["64 KiB GiB/s", "× raw", "4 KiB GiB/s", "× raw", "targets"],
    );
        for &layout in layouts {
            let get = |w, lib| match pick(results, w, layout, lib) {
                Cell::Ok(Sample::B(g)) => Some(g),
                _ => None,
            };
            let (base64, base4) = (get(Workload::B64, Lib::Raw), get(Workload::B4, Lib::Raw));
            for lib in layout.libs(Workload::B64) {
                let (g64, g4) = (get(Workload::B64, lib), get(Workload::B4, lib));
                if g64.is_none() && g4.is_none() {
                    let cell = pick(results, Workload::B64, layout, lib);
                    t.not_run(layout, lib, &cell, 5);
                    continue;
                }
                let vs = |w, other| paired(results, w, layout, (lib, other), rate);
                let r64 = vs(Workload::B64, Lib::Raw);
                let r4 = vs(Workload::B4, Lib::Raw);
                let mut checks = Vec::new();
                if g64.is_some() {
                    checks.push((
                        r64.is_some_and(|r| r >= MIN_THROUGHPUT),
                        format!("64 KiB ≥ {MIN_THROUGHPUT}×"),
                    ));
                }
                if g4.is_some() {
                    checks.push((
                        r4.is_some_and(|r| r >= MIN_COALESCED),
                        format!("4 KiB ≥ {MIN_COALESCED}× (coalescing)"),
                    ));
                }
                if let Some(r) = vs(Workload::B64, Lib::Interprocess) {
                    checks.push((r > 1.0, "64 KiB ahead of interprocess".into()));
                }
                if let Some(r) = vs(Workload::B4, Lib::Interprocess) {
                    checks.push((r > 1.0, "4 KiB ahead of interprocess".into()));
                }
                let targets = t.targets(
                    layout,
                    lib,
                    "B bulk",
                    checks,
                    base64.is_some() || base4.is_some(),
                );
                let show = |g: Option<f64>| g.map_or("–".into(), |g| format!("{g:.2}"));
                t.row(layout, lib, &[show(g64), x(r64), show(g4), x(r4), targets]);
            }
        }
    }

    // ----- C
    if workloads.contains(&Workload::C) {
        t.head(
            &format!(
            "C · {} concurrent connections × {} ping-pongs; server and clients in two processes",
            c.c_conns, c.c_rounds
        ),
            &[
                "time s",
                "× raw throughput",
                "server peak RSS MiB",
                "clients peak RSS MiB",
                "failed",
                "targets",
            ],
        );
        for &layout in layouts {
            let get = |lib| match pick(results, Workload::C, layout, lib) {
                Cell::Ok(Sample::C(s)) => Some(s),
                _ => None,
            };
            let (base, ipc) = (get(Lib::Raw), get(Lib::Interprocess));
            for lib in layout.libs(Workload::C) {
                let vs = |other| paired(results, Workload::C, layout, (lib, other), rate);
                match pick(results, Workload::C, layout, lib) {
                    Cell::Ok(Sample::C(s)) => {
                        let thr = vs(Lib::Raw);
                        let mut checks = vec![
                            (
                                thr.is_some_and(|r| r >= MIN_THROUGHPUT),
                                format!("throughput ≥ {MIN_THROUGHPUT}×"),
                            ),
                            (s.failures == 0, "no failures".into()),
                        ];
                        if let Some(i) = ipc {
                            checks.push(if i.failures > 0 {
                                (
                                    s.failures == 0,
                                    format!("ahead of interprocess (which lost {})", i.failures),
                                )
                            } else {
                                (
                                    vs(Lib::Interprocess).is_some_and(|r| r > 1.0),
                                    "ahead of interprocess".into(),
                                )
                            });
                        }
                        let targets =
                            t.targets(layout, lib, "C many connections", checks, base.is_some());
                        t.row(
                            layout,
                            lib,
                            &[
                                format!("{:.2}", s.secs),
                                x(thr),
                                format!("{:.1}", s.server_mib),
                                format!("{:.1}", s.client_mib),
                                s.failures.to_string(),
                                targets,
                            ],
                        );
                    }
                    cell => t.not_run(layout, lib, &cell, 6),
                }
            }
        }
    }

    // ----- D
    if workloads.contains(&Workload::D) {
        t.head_with_note(
            &format!(
                "D · {} sequential connect + drop against one accepting thread or task; {}",
                c.d_n,
                rounds(c.reps(Workload::D))
            ),
            SPREAD_NOTE,
            &[
                "connects/s",
                "spread",
                "× raw, medians",
                "× raw, per round",
                "failed or lost",
                "targets",
            ],
        );
        for &layout in layouts {
            let get = |lib| match pick(results, Workload::D, layout, lib) {
                Cell::Ok(Sample::D(d)) => Some(d),
                _ => None,
            };
            let (base, ipc) = (get(Lib::Raw), get(Lib::Interprocess));
            for lib in layout.libs(Workload::D) {
                let vs = |other| paired(results, Workload::D, layout, (lib, other), rate);
                match pick(results, Workload::D, layout, lib) {
                    Cell::Ok(Sample::D(d)) => {
                        let r = vs(Lib::Raw);
                        let mut checks = vec![
                            (
                                r.is_some_and(|r| r >= MIN_THROUGHPUT),
                                format!("≥ {MIN_THROUGHPUT}×"),
                            ),
                            (d.failures == 0, "none lost".into()),
                        ];
                        if let Some(i) = ipc {
                            checks.push(if i.failures > 0 {
                                (
                                    d.failures == 0,
                                    format!("ahead of interprocess (which lost {})", i.failures),
                                )
                            } else {
                                (
                                    vs(Lib::Interprocess).is_some_and(|r| r > 1.0),
                                    "ahead of interprocess".into(),
                                )
                            });
                        }
                        let targets = t.targets(layout, lib, "D connects", checks, base.is_some());
                        let runs = primaries(results, Workload::D, layout, lib);
                        t.row(
                            layout,
                            lib,
                            &[
                                kilo(d.per_s),
                                spread(&runs, d.per_s, kilo),
                                x(ratio_of_medians(results, Workload::D, layout, lib)),
                                x(r),
                                d.failures.to_string(),
                                targets,
                            ],
                        );
                    }
                    cell => t.not_run(layout, lib, &cell, 6),
                }
            }
        }
    }

    // ----- E
    if workloads.contains(&Workload::E) {
        t.head(
        &format!(
            "E · a {} MiB flood into a reader taking 16 KiB per readyRead, read-buffer limit 64 KiB",
            c.e_bytes >> 20
        ),
        &["GiB/s", "× raw", "peak RSS MiB", "RSS growth MiB", "targets"],
    );
        for &layout in layouts {
            let get = |lib| match pick(results, Workload::E, layout, lib) {
                Cell::Ok(Sample::E(f)) => Some(f),
                _ => None,
            };
            let base = get(Lib::Raw);
            for lib in layout.libs(Workload::E) {
                match pick(results, Workload::E, layout, lib) {
                    Cell::Ok(Sample::E(f)) => {
                        let r = paired(results, Workload::E, layout, (lib, Lib::Raw), rate);
                        let allowed = base.map_or(0.0, |b| b.growth_mib) + FLAT_SLACK_MIB;
                        let checks = vec![
                            (
                                r.is_some_and(|r| r >= MIN_THROUGHPUT),
                                format!("≥ {MIN_THROUGHPUT}×"),
                            ),
                            (f.growth_mib <= allowed, "RSS flat".into()),
                        ];
                        let mut targets = t.targets(layout, lib, "E flood", checks, base.is_some());
                        if lib == Lib::LocalsockNoLimit {
                            targets = "contrast: no limit (Qt's default)".into();
                        }
                        t.row(
                            layout,
                            lib,
                            &[
                                format!("{:.2}", f.gib_s),
                                x(r),
                                format!("{:.1}", f.peak_mib),
                                format!("{:.1}", f.growth_mib),
                                targets,
                            ],
                        );
                    }
                    cell => t.not_run(layout, lib, &cell, 5),
                }
            }
        }
    }

    // ----- F
    if workloads.contains(&Workload::F) && layouts.contains(&Layout::Threads) {
        let scaled = if c.f_clients < c.f_clients_wanted {
            format!(
                " (scaled down from {} clients: the descriptor limit allows {})",
                c.f_clients_wanted, c.f_clients
            )
        } else {
            String::new()
        };
        t.head_with_note(
            &format!(
                "F · {} client threads × {} 64-byte ping-pongs, a server thread per connection; {}{scaled}",
                c.f_clients,
                c.f_rounds,
                rounds(c.reps(Workload::F))
            ),
            SPREAD_NOTE,
            &[
                "round trips/s",
                "spread",
                "time s",
                "× raw, medians",
                "× raw, per round",
                "failed",
                "targets",
            ],
        );
        for &layout in layouts {
            let base = match pick(results, Workload::F, layout, Lib::Raw) {
                Cell::Ok(Sample::F(f)) => Some(f),
                _ => None,
            };
            for lib in layout.libs(Workload::F) {
                match pick(results, Workload::F, layout, lib) {
                    Cell::Ok(Sample::F(f)) => {
                        let r = paired(results, Workload::F, layout, (lib, Lib::Raw), rate);
                        let checks = vec![
                            (
                                r.is_some_and(|r| r >= MIN_THROUGHPUT),
                                format!("throughput ≥ {MIN_THROUGHPUT}×"),
                            ),
                            (f.failures == 0, "no failures".into()),
                        ];
                        let targets =
                            t.targets(layout, lib, "F thread per client", checks, base.is_some());
                        let runs = primaries(results, Workload::F, layout, lib);
                        t.row(
                            layout,
                            lib,
                            &[
                                kilo(f.per_s),
                                spread(&runs, f.per_s, kilo),
                                format!("{:.3}", f.secs),
                                x(ratio_of_medians(results, Workload::F, layout, lib)),
                                x(r),
                                f.failures.to_string(),
                                targets,
                            ],
                        );
                    }
                    cell => t.not_run(layout, lib, &cell, 7),
                }
            }
        }
    }

    let checked = t.checked;
    let _ = writeln!(out, "\n### Targets\n");
    if c.quick {
        let _ = writeln!(
            out,
            "Targets are only checked in full runs: --quick measures too few operations to judge them."
        );
    } else if checked == 0 {
        let _ = writeln!(out, "None checked (no localsock row next to its baseline).");
    } else if misses.is_empty() {
        let _ = writeln!(out, "Every localsock row met its targets.");
    } else {
        let _ = writeln!(out, "Missed ({}):\n", misses.len());
        for m in &misses {
            let _ = writeln!(out, "- {m}");
        }
    }
    out
}
