//! Service-time distributions parameterised the way people state latency: a mean and a p99. The
//! normal and lognormal parameters are solved from those two numbers here, once, so a pod only draws.

use super::{Dist, ServiceTimeConfig};
use rand::Rng;
use rand_distr::{Distribution, LogNormal, Normal};
use std::time::Duration;

/// z such that P(Z <= z) = 0.99 for a standard normal.
const Z99: f64 = 2.326_347_874_040_841;

/// A ready-to-sample service time, in seconds.
#[derive(Debug, Clone, Copy)]
pub enum ServiceTime {
    Fixed(Duration),
    /// Normal, truncated at 0 (draws below 0 become 0).
    Normal(Normal<f64>),
    /// The distribution and its mean (which `LogNormal` does not expose).
    LogNormal(LogNormal<f64>, Duration),
}

impl ServiceTime {
    /// Solves the distribution's parameters; the error says what is wrong with `mean`/`p99`.
    pub fn from_config(c: &ServiceTimeConfig) -> Result<ServiceTime, String> {
        let mean = c.mean.get().as_secs_f64();
        let p99 = c.p99.map(|p| p.get().as_secs_f64());
        match c.dist {
            Dist::Fixed => match p99 {
                Some(_) => Err("a fixed service time takes only `mean`; use dist = \"normal\" or \"lognormal\" for a p99".into()),
                None => Ok(ServiceTime::Fixed(c.mean.get())),
            },
            Dist::Normal | Dist::Lognormal => {
                let p99 = p99.ok_or("give `p99` as well as `mean` (e.g. mean = \"10ms\", p99 = \"40ms\")")?;
                if mean <= 0.0 || p99 <= mean {
                    return Err("needs 0 < mean < p99".into());
                }
                if c.dist == Dist::Normal {
                    let sd = (p99 - mean) / Z99;
                    Normal::new(mean, sd).map(ServiceTime::Normal).map_err(|e| e.to_string())
                } else {
                    let (mu, sigma) = lognormal_params(mean, p99).ok_or_else(|| {
                        format!(
                            "a lognormal cannot have p99/mean above {:.1}; this one asks for {:.1}",
                            (Z99 * Z99 / 2.0).exp(),
                            p99 / mean
                        )
                    })?;
                    LogNormal::new(mu, sigma)
                        .map(|l| ServiceTime::LogNormal(l, c.mean.get()))
                        .map_err(|e| e.to_string())
                }
            }
        }
    }

    /// True when every draw is zero: the pod must then not touch a timer at all.
    pub fn is_zero(&self) -> bool {
        matches!(self, ServiceTime::Fixed(d) if d.is_zero())
    }

    /// Mean service time, for the capacity formula `concurrency / mean`.
    pub fn mean(&self) -> Duration {
        match self {
            ServiceTime::Fixed(d) => *d,
            ServiceTime::Normal(n) => Duration::from_secs_f64(n.mean().max(0.0)),
            ServiceTime::LogNormal(_, mean) => *mean,
        }
    }

    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Duration {
        match self {
            ServiceTime::Fixed(d) => *d,
            ServiceTime::Normal(n) => Duration::from_secs_f64(n.sample(rng).max(0.0)),
            ServiceTime::LogNormal(l, _) => Duration::from_secs_f64(l.sample(rng).min(3600.0)),
        }
    }
}

/// mean = exp(mu + s^2/2) and p99 = exp(mu + z s) give s^2/2 - z s + ln(p99/mean) = 0; the smaller
/// root is the one whose p99 is the 99th percentile (the larger one puts almost all mass near 0).
fn lognormal_params(mean: f64, p99: f64) -> Option<(f64, f64)> {
    let d = (p99 / mean).ln();
    let disc = Z99 * Z99 - 2.0 * d;
    if disc < 0.0 {
        return None;
    }
    let sigma = Z99 - disc.sqrt();
    let mu = mean.ln() - sigma * sigma / 2.0;
    Some((mu, sigma))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::HumanDuration;
    use rand::rngs::SmallRng;
    use rand::SeedableRng;

    fn cfg(dist: Dist, mean_ms: u64, p99_ms: Option<u64>) -> ServiceTimeConfig {
        ServiceTimeConfig {
            dist,
            mean: HumanDuration::from_millis(mean_ms),
            p99: p99_ms.map(HumanDuration::from_millis),
        }
    }

    fn mean_and_p99(st: &ServiceTime) -> (f64, f64) {
        let mut rng = SmallRng::seed_from_u64(7);
        let mut v: Vec<f64> = (0..200_000)
            .map(|_| st.sample(&mut rng).as_secs_f64() * 1e3)
            .collect();
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        (
            v.iter().sum::<f64>() / v.len() as f64,
            v[v.len() * 99 / 100],
        )
    }

    #[test]
    fn lognormal_hits_mean_and_p99() {
        for (m, p) in [(8, 40), (10, 20), (5, 60)] {
            let st = ServiceTime::from_config(&cfg(Dist::Lognormal, m, Some(p))).unwrap();
            let (mean, p99) = mean_and_p99(&st);
            assert!(
                (mean / m as f64 - 1.0).abs() < 0.02,
                "mean {mean} for {m}/{p}"
            );
            assert!((p99 / p as f64 - 1.0).abs() < 0.04, "p99 {p99} for {m}/{p}");
            assert!((st.mean().as_secs_f64() * 1e3 / m as f64 - 1.0).abs() < 0.03);
        }
    }

    #[test]
    fn normal_hits_mean_and_p99() {
        let st = ServiceTime::from_config(&cfg(Dist::Normal, 10, Some(16))).unwrap();
        let (mean, p99) = mean_and_p99(&st);
        assert!((mean - 10.0).abs() < 0.1, "{mean}");
        assert!((p99 - 16.0).abs() < 0.3, "{p99}");
    }

    #[test]
    fn fixed_is_exact_and_zero_is_detected() {
        let st = ServiceTime::from_config(&cfg(Dist::Fixed, 10, None)).unwrap();
        assert_eq!(
            st.sample(&mut SmallRng::seed_from_u64(1)),
            Duration::from_millis(10)
        );
        assert!(!st.is_zero());
        assert!(ServiceTime::from_config(&ServiceTimeConfig::default())
            .unwrap()
            .is_zero());
    }

    #[test]
    fn refuses_impossible_parameters() {
        assert!(ServiceTime::from_config(&cfg(Dist::Lognormal, 10, None)).is_err());
        assert!(ServiceTime::from_config(&cfg(Dist::Lognormal, 10, Some(5))).is_err());
        assert!(ServiceTime::from_config(&cfg(Dist::Lognormal, 1, Some(100))).is_err());
        assert!(ServiceTime::from_config(&cfg(Dist::Fixed, 10, Some(20))).is_err());
    }
}
