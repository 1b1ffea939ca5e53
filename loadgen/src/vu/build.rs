//! Building a virtual user's cart before a phase, and reading it back.

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
        for i in self.lines.len()..n {
            // Two properties a line, each value six random alphanumeric
            // characters: text that deflate cannot guess, as engraving or
            // gift notes are (docs/benchmarks.md, "The shape").
            let (color, size) = (self.word(), self.word());
            let line = LineState {
                sku: format!("SKU-{}-{}", self.id, i),
                props: format!(r#"{{"color":"{color}","size":"{size}"}}"#),
                line: None,
                qty: 1,
                present: true,
            };
            let body = line.add_body(1);
            let (res, _) = self.send("POST", "/cart/items", Some(&body)).await;
            match res {
                Ok(r) if (200..300).contains(&r.status) => {
                    // Line keys: from this response if the server echoes
                    // the cart (it does), so that even a store-less mode
                    // knows them.
                    let mut line = line;
                    if let Some(items) = parse_items(&r.body) {
                        line.line = items
                            .into_iter()
                            .find(|it| it.sku == line.sku)
                            .map(|it| it.line);
                    }
                    self.lines.push(line);
                }
                Ok(r) => {
                    return Err(format!(
                        "POST /cart/items (line {}) -> {}",
                        i + 1,
                        describe_error(r.status, &r.body)
                    ));
                }
                Err(e) => return Err(format!("POST /cart/items (line {}) -> {e}", i + 1)),
            }
        }
        Ok(self.lines.len())
    }

    pub(super) async fn read_cart(&mut self) -> Result<Vec<u8>, String> {
        let (res, _) = self.send("GET", "/cart", None).await;
        match res {
            Ok(r) if r.status == 200 => Ok(r.body),
            Ok(r) => Err(format!(
                "GET /cart -> {}",
                describe_error(r.status, &r.body)
            )),
            Err(e) => Err(format!("GET /cart -> {e}")),
        }
    }

    pub(super) fn apply_view(&mut self, body: &[u8]) -> usize {
        let Some(items) = parse_items(body) else {
            return 0;
        };
        for l in &mut self.lines {
            l.present = false;
        }
        for it in &items {
            if let Some(l) = self.lines.iter_mut().find(|l| l.sku == it.sku) {
                l.line = Some(it.line.clone());
                l.qty = it.quantity;
                l.present = true;
            }
        }
        self.pending_readd = self.lines.iter().position(|l| !l.present);
        items.len()
    }

    /// After the build: reads the cart back. If the server kept none of
    /// this VU's lines (the `none` mode: no session layer), the VU adopts
    /// the cart the server shows to everyone (its fixed template) as its
    /// own, tracks it locally and never re-reads it; with an empty cart it
    /// keeps its own model and expects 404 for line operations.
    pub async fn sync_after_build(&mut self) -> Result<(), String> {
        let body = self.read_cart().await?;
        let items = parse_items(&body).unwrap_or_default();
        let mine = items
            .iter()
            .any(|it| self.lines.iter().any(|l| l.sku == it.sku));
        if mine || self.lines.is_empty() {
            self.apply_view(&body);
            return Ok(());
        }
        self.stateless = true;
        self.pending_readd = None;
        self.resync = false;
        if items.is_empty() {
            for l in &mut self.lines {
                l.present = true;
            }
        } else {
            self.lines = items
                .into_iter()
                .map(|it| LineState {
                    sku: it.sku,
                    props: it.props,
                    line: Some(it.line),
                    qty: it.quantity,
                    present: true,
                })
                .collect();
        }
        Ok(())
    }
}
