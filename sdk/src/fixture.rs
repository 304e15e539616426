//! Tests that need something outside the repository: skip where it may be absent, fail where
//! it must be there.
//!
//! A user's clone has no `../shared/data` and may have no C compiler, so such a test skips with
//! a printed reason. CI has both, and a test that skipped there would pass without testing
//! anything; it sets `COEVO_REQUIRE_FIXTURES=1`, under which a missing fixture is a failure.

/// The variable that turns a missing fixture into a failure.
pub const REQUIRE_FIXTURES: &str = "COEVO_REQUIRE_FIXTURES";

/// Whether missing fixtures fail the tests that need them.
pub fn required() -> bool {
    std::env::var(REQUIRE_FIXTURES).is_ok_and(|v| v == "1")
}

/// Reports a missing fixture: prints why the test skips, or panics when fixtures are
/// required. `what` says what is missing and how to get it.
pub fn missing(what: &str) {
    report(required(), what);
}

fn report(required: bool, what: &str) {
    assert!(
        !required,
        "missing fixture, and {REQUIRE_FIXTURES}=1 requires it: {what}"
    );
    eprintln!("skipped: {what}");
}

/// `path` when it exists; otherwise reports it missing (see [`missing`]) and gives `None`.
pub fn existing(path: std::path::PathBuf, what: &str) -> Option<std::path::PathBuf> {
    if path.exists() {
        return Some(path);
    }
    missing(&format!("{what} at {}", path.display()));
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_fixture_skips_where_it_may_be_absent() {
        report(false, "nothing to see");
        let here = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        assert_eq!(existing(here.clone(), "this crate"), Some(here));
    }

    #[test]
    #[should_panic(expected = "COEVO_REQUIRE_FIXTURES=1 requires it: the shared data")]
    fn a_missing_fixture_fails_where_it_is_required() {
        report(true, "the shared data");
    }
}
