//! Network simulation benchmarks: `sim::run` with 128 and 1000 nodes (16 messages per target
//! kind: full address, 1-byte prefix, flood), each measured once per sample with
//! `iter_custom`; every run's wall time and report are printed.
//!
//! Run with `cargo bench -p p2p-pss --bench sim`.

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs, clippy::print_stdout)]

use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use p2p_pss::sim::{self, SimConfig, Target};

fn config(nodes: usize) -> SimConfig {
    let mut c = SimConfig::default();
    c.nodes = nodes;
    c.messages = 16;
    c.targets = vec![Target::Full, Target::Partial(1), Target::Flood];
    c
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let mut group = c.benchmark_group("sim");
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.warm_up_time(Duration::from_millis(1));
    for nodes in [128usize, 1000] {
        group.measurement_time(Duration::from_secs(if nodes > 500 { 60 } else { 10 }));
        group.bench_function(format!("nodes_{nodes}"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for i in 0..iters {
                    let mut cfg = config(nodes);
                    cfg.seed = i + 1;
                    let start = Instant::now();
                    let report = rt.block_on(sim::run(cfg)).expect("a simulation");
                    let took = start.elapsed();
                    total += took;
                    println!("\n{nodes} nodes: {:.2} s\n{report}", took.as_secs_f64());
                }
                total
            });
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
