//! The host: CPU load, memory, and free disk on the volume holding the
//! data (the SQLite file's directory; the working directory with
//! PostgreSQL). The disk threshold is `DIAG_DISK_MIN_FREE_PERCENT`.

use std::path::{Path, PathBuf};

use sysinfo::{Disks, MemoryRefreshKind, RefreshKind, System};

use crate::diagnostics::{Check, Kind, Priority, Probe, Signals, Status, Text};

pub const NAME: &str = "host";

pub async fn check(probe: &Probe, signals: &mut Signals) -> Check {
    let dir = probe.data_dir();
    let threshold = probe.config.diagnostics.disk_min_free_percent;
    // sysinfo reads /proc synchronously: keep it off the async threads.
    let measured = tokio::task::spawn_blocking(move || measure(&dir)).await;
    let Ok(host) = measured else {
        let mut check = Check::ok(NAME, "-");
        check.note(Text::new("diag.host.unknown"));
        return check;
    };
    let cores = host.cores.max(1);
    let mut figure = format!(
        "load {:.2} on {cores} core(s), memory {:.0} % used",
        host.load, host.memory_used_percent
    );
    if let Some(disk) = &host.disk {
        figure.push_str(&format!(
            ", disk {:.1} % free ({})",
            disk.free_percent,
            disk.mount.display()
        ));
    }
    let mut check = Check::ok(NAME, figure);
    signals.disk_threshold_percent = Some(threshold);
    if let Some(disk) = &host.disk {
        signals.disk_free_percent = Some(disk.free_percent);
        if disk.free_percent < threshold {
            check.finding(
                Status::Fail,
                Priority::P1,
                Kind::Runtime,
                Text::new("diag.host.disk")
                    .with("free", format!("{:.1}", disk.free_percent))
                    .with("threshold", threshold)
                    .with("path", disk.mount.display()),
                Some(Text::new("diag.host.disk.fix")),
            );
        }
    }
    if host.memory_used_percent > 90.0 {
        check.finding(
            Status::Warn,
            Priority::P2,
            Kind::Performance,
            Text::new("diag.host.memory")
                .with("percent", format!("{:.0}", host.memory_used_percent)),
            Some(Text::new("diag.host.memory.fix")),
        );
    }
    if host.load > 4.0 * cores as f64 {
        check.finding(
            Status::Warn,
            Priority::P2,
            Kind::Performance,
            Text::new("diag.host.load")
                .with("load", format!("{:.2}", host.load))
                .with("cores", cores),
            Some(Text::new("diag.host.load.fix")),
        );
    }
    check
}

struct Host {
    load: f64,
    cores: usize,
    memory_used_percent: f64,
    disk: Option<DiskFree>,
}

struct DiskFree {
    mount: PathBuf,
    free_percent: f64,
}

fn measure(dir: &Path) -> Host {
    let system = System::new_with_specifics(
        RefreshKind::nothing().with_memory(MemoryRefreshKind::nothing().with_ram()),
    );
    let total = system.total_memory().max(1) as f64;
    let used = total - system.available_memory() as f64;
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_owned());
    let disks = Disks::new_with_refreshed_list();
    // The volume is the disk with the longest mount point above the dir.
    let disk = disks
        .list()
        .iter()
        .filter(|d| dir.starts_with(d.mount_point()))
        .max_by_key(|d| d.mount_point().as_os_str().len())
        .map(|d| DiskFree {
            mount: d.mount_point().to_owned(),
            free_percent: 100.0 * d.available_space() as f64 / d.total_space().max(1) as f64,
        });
    Host {
        load: System::load_average().one,
        cores,
        memory_used_percent: 100.0 * used / total,
        disk,
    }
}
