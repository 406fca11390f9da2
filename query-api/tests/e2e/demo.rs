//! The demo driver against the real stack (issue 18): the orders it places all come to
//! their end in the read model, delivered or cancelled, as it says.

use crate::stack::Stack;
use orderflow_demo::{CommandClient, DemoSettings, run};
use orderflow_testkit::TestIssuer;
use tokio_util::sync::CancellationToken;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_driver_moves_every_order_it_places_to_its_end() {
    let stack = Stack::start().await;
    let settings = DemoSettings {
        commands: stack.commands_url().to_owned(),
        rate: 20.0,
        orders: 12,
        // Delays of tens of milliseconds instead of seconds.
        speed: 200.0,
        cancel_percent: 40,
        fulfilment: None,
    };
    let client = CommandClient::new(stack.commands_url(), TestIssuer::shared().operator());
    let summary = run(&settings, client, CancellationToken::new()).await;

    assert_eq!(summary.placed, 12);
    assert_eq!(summary.failed, 0, "{summary:?}");
    assert_eq!(summary.delivered + summary.cancelled, 12, "{summary:?}");
    // The read model catches up within moments of the last command.
    let mut held = (0, 0, 0);
    for _ in 0..100 {
        let page = stack.query("/orders?limit=50").await;
        let orders = page["orders"].as_array().unwrap();
        let count = |s: &str| orders.iter().filter(|o| o["status"] == s).count() as u64;
        held = (orders.len(), count("delivered"), count("cancelled"));
        if held == (12, summary.delivered, summary.cancelled) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the read model holds (orders, delivered, cancelled) {held:?}, the driver {summary:?}");
}
