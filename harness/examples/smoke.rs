use session_harness::model::{World, profile::ProfileId, settings::Setup, vocab::*};
fn main() {
    for profile in ProfileId::ALL {
        let mut w = World::new(Setup::new(Platform::Ios, profile));
        let evs = vec![
            Event::ColdStart,
            Event::Advance { ms: 200 },
            Event::SignIn { task: None },
            Event::Advance { ms: 500 },
            Event::GetToken { skip_cache: false },
            Event::Advance { ms: 100 },
            Event::ApiCall {
                path: AppPath::new("/orders"),
            },
            Event::Advance { ms: 100 },
            Event::AppState {
                state: AppState::Background,
            },
            Event::Advance { ms: 3_600_000 },
            Event::AppState {
                state: AppState::Active,
            },
            Event::Advance { ms: 1000 },
            Event::Kill,
            Event::Advance { ms: 60000 },
            Event::ColdStart,
            Event::Advance { ms: 3000 },
            Event::Revoke,
            Event::Advance { ms: 120_000 },
        ];
        println!("== {profile}");
        for e in evs {
            let o = w.step(&e);
            println!(
                "t={} {e}: route={} loaded={} signed_in={:?} server={:?} inflight={}",
                w.now(),
                o.view.route,
                o.view.is_loaded,
                o.view.is_signed_in,
                o.server.session,
                o.in_flight
            );
            for h in &o.happenings {
                println!("    {}", serde_json::to_string(h).unwrap());
            }
        }
    }
}
