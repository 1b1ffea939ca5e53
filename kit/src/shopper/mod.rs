//! One virtual shopper for the tests and the load benchmark: the cart it
//! expects ([`Cart`]), the steps that change it ([`Op`]) and the request
//! mixes it draws them from ([`Churn`], [`Browse`]), the requests and
//! bodies that carry them ([`Request`]), the credential it holds ([`Jar`]),
//! and the check that the server's cart is what it expects
//! ([`Cart::check`]).
//!
//! The HTTP client stays outside, behind [`Transport`]: the tests send
//! through reqwest, the load benchmark through its own raw HTTP/1.1 client,
//! which costs the one core it has a few microseconds a request.

mod cart;
mod jar;
mod mix;
mod request;

use std::future::Future;

pub use cart::{Cart, Item, Line, Op, Outcome, items, quantities};
pub use jar::{Jar, Via};
pub use mix::{Browse, Churn, Pick};
pub use request::{Request, encode_segment};

/// An answer to a request, as a shopper reads it.
pub trait Answer {
    fn status(&self) -> u16;

    /// The body as it came.
    fn body(&self) -> &[u8];

    /// The value a `Set-Cookie` of `name` carries: empty when it clears the
    /// cookie.
    fn set_cookie(&self, name: &str) -> Option<String>;

    /// The `Cart-Token` header: a bearer client's new token.
    fn cart_token(&self) -> Option<String>;

    /// The problem's `code`, or an empty string.
    fn code(&self) -> String {
        serde_json::from_slice::<serde_json::Value>(self.body())
            .ok()
            .and_then(|v| v.get("code")?.as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    /// The cart view's items; none when the body holds no view.
    fn items(&self) -> Vec<Item> {
        items(self.body()).unwrap_or_default()
    }

    /// The body as text.
    fn text(&self) -> String {
        String::from_utf8_lossy(self.body()).into_owned()
    }
}

/// The HTTP client behind a shopper.
pub trait Transport {
    type Answer: Answer;
    /// Why no answer came.
    type Error;

    /// Sends `request` with the credential and cookies of `jar`
    /// ([`Jar::headers`]).
    fn send(
        &mut self,
        request: &Request,
        jar: &Jar,
    ) -> impl Future<Output = Result<Self::Answer, Self::Error>> + Send;
}

/// A shopper: its credential, the cart it expects, and its client.
#[derive(Debug, Clone)]
pub struct Shopper<T> {
    pub jar: Jar,
    pub cart: Cart,
    pub transport: T,
}

impl<T: Transport> Shopper<T> {
    /// A shopper with an empty cart.
    pub fn new(jar: Jar, transport: T) -> Self {
        Self {
            jar,
            cart: Cart::default(),
            transport,
        }
    }

    /// One request with this shopper's credential; keeps what the answer
    /// issues.
    pub async fn call(&mut self, request: &Request) -> Result<T::Answer, T::Error> {
        let answer = self.transport.send(request, &self.jar).await?;
        self.jar.keep(&answer);
        Ok(answer)
    }

    /// The request of `op` ([`Cart::request`]), sent.
    pub async fn perform(&mut self, op: &Op) -> Result<T::Answer, T::Error> {
        let request = self.cart.request(op);
        self.call(&request).await
    }

    /// The final check: `GET /cart` must read back exactly the cart it
    /// expects; [`Outcome::NoCart`] when it holds no credential.
    pub async fn verify(&mut self) -> Outcome
    where
        T::Error: ToString,
    {
        if self.jar.token.is_none() {
            return Outcome::NoCart;
        }
        let answer = self.call(&Request::read()).await;
        self.cart.check(&answer)
    }
}
