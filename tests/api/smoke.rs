use crate::helpers::{Auth, spawn_app};

#[tokio::test]
async fn a_cookie_cart_survives_a_round_trip() {
    let app = spawn_app().await;
    let added = app.add(&Auth::None, "TEE-100", 2).await;
    assert_eq!(added.status, 200, "{}", added.text);
    let token = added.cookie_value("cart").expect("a cookie is set");
    let read = app.get_cart(&Auth::Cookie(token)).await;
    assert_eq!(read.lines(), vec![("TEE-100".to_owned(), 2)]);
}
