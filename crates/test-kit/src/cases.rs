//! Table-driven tests that stay one `#[tokio::test]` per row.

/// Expands each `name: row;` into its own `#[tokio::test] async fn name()` that runs
/// `row.run().await`. A row is any value with an `async fn run(self)`; it says what differs
/// between the cases, and its `run` holds the shape they share, written once.
///
/// One test per row keeps the test count and the names: a failing row is reported by name
/// and the other rows still run. Attributes before a row (a doc comment, `#[cfg]`) are kept.
/// The calling crate needs `tokio` with the `macros` and `rt` features.
///
/// ```
/// struct Sum(u32, u32, u32);
///
/// impl Sum {
///     async fn run(self) {
///         assert_eq!(self.0 + self.1, self.2);
///     }
/// }
///
/// steadfast_test_kit::cases! {
///     /// Small numbers.
///     one_and_two: Sum(1, 2, 3);
///     zeros: Sum(0, 0, 0);
/// }
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! cases {
    ($($(#[$meta:meta])* $name:ident: $row:expr;)*) => {$(
        $(#[$meta])*
        #[tokio::test]
        async fn $name() {
            $row.run().await
        }
    )*};
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    static RAN: AtomicUsize = AtomicUsize::new(0);

    struct Row(usize);

    impl Row {
        async fn run(self) {
            RAN.fetch_add(1, Ordering::SeqCst);
            assert!(self.0 < 10, "row {} is out of range", self.0);
        }
    }

    crate::cases! {
        a_row_runs: Row(1);
        /// A documented row.
        a_second_row_runs: Row(2);
    }

    crate::cases! {
        #[should_panic(expected = "row 11 is out of range")]
        a_failing_row_fails_its_own_test: Row(11);
    }

    #[test]
    fn each_row_is_its_own_test_function() {
        // The rows above are plain functions: calling one runs exactly that row.
        let before = RAN.load(Ordering::SeqCst);
        a_row_runs();
        assert!(RAN.load(Ordering::SeqCst) > before);
    }
}
