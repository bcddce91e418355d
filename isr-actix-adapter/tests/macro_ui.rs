//! Compile-time behaviour of `#[revalidate]` on actix-web handlers: what it accepts and how it
//! refuses the rest (the arguments are parsed as for axum; see `isr-axum`'s cases).

#[test]
fn revalidate_attribute() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
