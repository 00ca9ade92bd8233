//! Synthesis time for the reference config (tests/fixtures/reference): config and lookups in,
//! templates out, then the same with the JSON bodies serialized as `synth` writes them.
//! Prints min and median over N runs (`cargo bench --bench synth [-- RUNS]`).

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use medplum_init::config::infra::InfraConfig;
use medplum_init::deploy::context::CdkContext;
use medplum_init::deploy::synth;

fn stats(mut d: Vec<Duration>) -> (Duration, Duration) {
    d.sort();
    (d[0], d[d.len() / 2])
}

fn main() {
    let runs: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(500);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/reference");
    let config = InfraConfig::read_plain(&dir.join("medplum.staging.config.json")).unwrap();
    let lookups = CdkContext::read(&dir)
        .unwrap()
        .lookups(&config.account_number, &config.region);

    let mut synth_only = Vec::with_capacity(runs);
    let mut with_json = Vec::with_capacity(runs);
    let mut bytes = 0;
    for _ in 0..runs {
        let t = Instant::now();
        black_box(synth(black_box(&config), black_box(&lookups)).unwrap());
        synth_only.push(t.elapsed());
        let t = Instant::now();
        let stacks = synth(&config, &lookups).unwrap();
        bytes = stacks.iter().map(|s| black_box(s.body()).len()).sum();
        with_json.push(t.elapsed());
    }
    let (min, median) = stats(synth_only);
    println!("synth reference config ({runs} runs): min {min:?}, median {median:?}");
    let (min, median) = stats(with_json);
    println!("synth + JSON body, {bytes} bytes ({runs} runs): min {min:?}, median {median:?}");
}
