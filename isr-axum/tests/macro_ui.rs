//! Compile-time behaviour of `#[revalidate]`: what it accepts and how it refuses the rest.

#[test]
fn revalidate_attribute() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
