//! The bus test suite: every scenario runs on the embedded backend and, when `TEST_AMQP_URL` is set, on
//! RabbitMQ (with `CI=true` a missing `TEST_AMQP_URL` fails the RabbitMQ tests instead of skipping them).

// Test code: clippy's `allow-unwrap-in-tests` only covers `#[test]` fns, not the shared helpers here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod embedded;
mod harness;
mod proxy;
mod rabbitmq;
mod recorder;
mod scenarios;

/// Instantiates each scenario of [`scenarios`] once per backend, as `embedded_backend::<name>` and
/// `rabbitmq_backend::<name>`.
macro_rules! on_every_backend {
    ($($scenario:ident),* $(,)?) => {
        mod embedded_backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    crate::harness::run(crate::harness::Backend::Embedded, crate::scenarios::$scenario).await;
                }
            )*
        }
        mod rabbitmq_backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    crate::harness::run(crate::harness::Backend::RabbitMq, crate::scenarios::$scenario).await;
                }
            )*
        }
    };
}

on_every_backend!(
    fan_out_delivers_every_message_to_each_bound_group,
    competing_consumers_of_one_group_handle_each_message_once,
    messages_published_after_declare_wait_for_the_first_consumer,
    a_batch_publish_delivers_every_message,
    a_failing_message_is_retried_with_increasing_attempts_until_it_succeeds,
    a_message_failing_every_attempt_is_dead_lettered_after_max_attempts,
    a_rejected_message_is_dead_lettered_without_retries,
    concurrent_handler_calls_never_exceed_prefetch,
    shutdown_waits_for_in_flight_handlers_to_finish,
    two_thousand_concurrent_publishes_are_all_delivered,
    health_is_ok_while_the_backend_is_reachable,
    exclusive_groups_each_receive_every_message,
);
