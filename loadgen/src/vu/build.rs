//! Building a virtual user's cart before a phase, and reading it back.

use cartseal_kit::shopper::{Item, items};

use super::*;

impl Vu {
    /// Builds the cart to `n` lines (two properties each). Every add must
    /// succeed; then the line keys are read from the CartView.
    pub async fn build(&mut self, n: usize) -> Result<(), String> {
        self.build_upto(n).await.map(|_| ())
    }

    /// Adds lines until `n` or the first refusal; returns how many succeeded
    /// and, on a refusal, why.
    pub async fn build_upto(&mut self, n: usize) -> Result<usize, String> {
        for i in self.shopper.cart.lines().len()..n {
            // Two properties a line, each value six random alphanumeric
            // characters: text that deflate cannot guess, as engraving or
            // gift notes are (docs/benchmarks.md, "The shape").
            let (color, size) = (self.mix.word(), self.mix.word());
            let add = Op::Add {
                sku: format!("SKU-{}-{i}", self.id),
                quantity: 1,
                properties: Some(format!(r#"{{"color":"{color}","size":"{size}"}}"#)),
            };
            match self.send(&add).await {
                Ok(sent) if (200..300).contains(&sent.status()) => {
                    // Line keys: from this response if the server echoes
                    // the cart (it does), so that even a store-less mode
                    // knows them.
                    self.shopper.cart.apply(&add);
                    self.shopper.cart.learn_keys(&sent.items());
                }
                Ok(sent) => {
                    return Err(format!(
                        "POST /cart/items (line {}) -> {}",
                        i + 1,
                        describe_error(sent.status(), sent.body())
                    ));
                }
                Err(e) => return Err(format!("POST /cart/items (line {}) -> {}", i + 1, e.class)),
            }
        }
        Ok(self.shopper.cart.lines().len())
    }

    pub(super) async fn read_cart(&mut self) -> Result<Vec<u8>, String> {
        match self.send(&Op::Get).await {
            Ok(sent) if sent.status() == 200 => Ok(sent.response.body),
            Ok(sent) => Err(format!(
                "GET /cart -> {}",
                describe_error(sent.status(), sent.body())
            )),
            Err(e) => Err(format!("GET /cart -> {}", e.class)),
        }
    }

    /// The server's cart view: the lines it shows are held, the others
    /// count as removed (to add again).
    pub(super) fn apply_view(&mut self, body: &[u8]) {
        if let Some(shown) = items(body) {
            self.shopper.cart.sync(&shown);
        }
    }

    /// After the build: reads the cart back. If the server kept none of
    /// this VU's lines (the `none` mode: no session layer), the VU adopts
    /// the cart the server shows to everyone (its fixed template) as its
    /// own, tracks it locally and never re-reads it; with an empty cart it
    /// keeps its own model and expects 404 for line operations.
    pub async fn sync_after_build(&mut self) -> Result<(), String> {
        let body = self.read_cart().await?;
        let shown = items(&body).unwrap_or_default();
        let cart = &mut self.shopper.cart;
        let mine = shown.iter().any(|it| cart.get(&it.sku).is_some());
        if mine || cart.lines().is_empty() {
            self.apply_view(&body);
            return Ok(());
        }
        self.stateless = true;
        self.resync = false;
        if !shown.is_empty() {
            // Added again as they are: with their properties, `{}` for none.
            cart.replace(
                shown
                    .into_iter()
                    .map(|it| Item {
                        properties: Some(it.properties.unwrap_or_else(|| "{}".into())),
                        ..it
                    })
                    .collect(),
            );
        }
        Ok(())
    }
}
