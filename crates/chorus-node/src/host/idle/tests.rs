use super::*;

#[test]
fn proc_stat_counts_busy_time_without_idle_and_iowait() {
    let stat = "cpu  100 5 50 800 40 3 2 0 7 0\ncpu0 50 2 25 400 20 1 1 0 3 0\nintr 1 2\n";
    // total = 100+5+50+800+40+3+2+0 = 1000; idle = 800 + 40.
    assert_eq!(parse_proc_stat(stat), Some((1000, 160)));
    // Old kernels have only four fields.
    assert_eq!(parse_proc_stat("cpu 10 0 10 80\n"), Some((100, 20)));
    assert_eq!(parse_proc_stat("cpu0 1 2 3 4\n"), None);
    assert_eq!(parse_proc_stat("cpu  a b c d\n"), None);
}

#[test]
fn self_stat_reads_user_and_system_time_past_a_name_with_spaces() {
    let stat = "4242 (chorus app (x)) S 1 4242 4242 0 -1 4194304 500 0 0 0 123 45 0 0 20 0 8 0 100 0 0";
    assert_eq!(parse_self_stat(stat), Some(168));
    assert_eq!(parse_self_stat("4242 (short) S 1"), None);
}

fn sample(total: u64, busy: u64, own: u64) -> CpuSample {
    CpuSample { total, busy, own }
}

#[test]
fn own_work_does_not_count_and_the_average_moves_gradually() {
    let mut meter = IdleMeter::default();
    assert_eq!(meter.update(sample(1000, 100, 0)), None);
    assert!(!idle_by(meter.others_busy), "unknown is not idle");
    // 200 ticks, all busy, all of them this process (serving a peer).
    assert_eq!(meter.update(sample(1200, 300, 200)), Some(0.0));
    assert!(idle_by(meter.others_busy));
    // 200 ticks, all busy with other programs: the average moves by a fifth.
    let share = meter.update(sample(1400, 500, 200)).unwrap();
    assert!((share - SMOOTHING).abs() < 1e-9, "{share}");
    // Staying busy, it passes the limit after a few samples.
    let mut busy = 500;
    let mut total = 1400;
    for _ in 0..3 {
        total += 200;
        busy += 200;
        meter.update(sample(total, busy, 200));
    }
    assert!(!idle_by(meter.others_busy));
    // A sample with no time passed changes nothing.
    let before = meter.update(sample(total, busy, 200));
    assert_eq!(meter.update(sample(total, busy, 200)), before);
}

/// The real counters of this machine: two busy processes hold the
/// processor for a few seconds, and the meter must not call it idle.
#[cfg(target_os = "linux")]
#[test]
fn busy_processes_make_this_machine_not_idle() {
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    let mut meter = IdleMeter::default();
    meter.update(super::sample().unwrap());
    let mut children: Vec<_> = (0..cores.max(2))
        .map(|_| std::process::Command::new("sh").args(["-c", "while :; do :; done"]).spawn().unwrap())
        .collect();
    std::thread::sleep(Duration::from_secs(2));
    let share = meter.update(super::sample().unwrap());
    for child in &mut children {
        child.kill().unwrap();
        child.wait().unwrap();
    }
    let share = share.unwrap();
    assert!(share > BUSY_LIMIT, "busy loops on every core, yet only {share:.2} of the CPU busy");
    assert!(!idle_by(meter.others_busy));
}
