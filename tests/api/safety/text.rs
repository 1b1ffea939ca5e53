//! Property text that would display otherwise than it reads is refused.

use crate::helpers::{Auth, spawn_app};

#[tokio::test]
async fn bidi_overrides_and_zero_width_characters_in_properties_are_422() {
    let app = spawn_app().await;
    for value in ["gift\u{202E}txt.exe", "for\u{200B}you", "one\u{2028}two"] {
        let reply = app
            .add_with(&Auth::None, "TEE-100", 1, &[("engraving", value)])
            .await;
        reply.assert_problem(422, "cart_invalid");
        reply.assert_no_new_credential();
    }
    let fine = app
        .add_with(&Auth::None, "TEE-100", 1, &[("engraving", "Für Anna ❤")])
        .await;
    assert_eq!(fine.status, 200, "{}", fine.text);
}
