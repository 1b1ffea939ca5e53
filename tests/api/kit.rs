//! How the tests plug into the kit's virtual shopper and cluster: the
//! tests' reqwest [`Client`] is a shopper's transport, its [`Reply`] the
//! answer a shopper reads, and a [`BinaryServer`] a replica.

use cartseal_kit::cluster::Replica;
use cartseal_kit::process::Service;
use cartseal_kit::shopper::{Answer, Jar, Request, Transport};
use reqwest::Method;

use crate::helpers::{BinaryServer, Client, Reply};

impl Answer for Reply {
    fn status(&self) -> u16 {
        self.status
    }

    fn body(&self) -> &[u8] {
        self.text.as_bytes()
    }

    fn set_cookie(&self, name: &str) -> Option<String> {
        self.cookie_value(name)
    }

    fn cart_token(&self) -> Option<String> {
        Reply::cart_token(self)
    }

    fn code(&self) -> String {
        Reply::code(self).to_owned()
    }
}

impl Transport for Client {
    type Answer = Reply;
    /// No answer, or a broken one.
    type Error = String;

    async fn send(&mut self, request: &Request, jar: &Jar) -> Result<Reply, String> {
        let method = Method::from_bytes(request.method.as_bytes())
            .unwrap_or_else(|e| panic!("{}: not a method: {e}", request.method));
        let mut call = self.request(method, &request.path);
        for (name, value) in jar.headers(&request.method) {
            call = call.header(name, &value);
        }
        for (name, value) in &request.headers {
            call = call.header(name, value);
        }
        if let Some(content_type) = &request.content_type {
            call = call.header("content-type", content_type);
        }
        if let Some(body) = &request.body {
            call = call.body(body.clone());
        }
        call.try_send().await
    }
}

impl Replica for BinaryServer {
    fn service(&self) -> &Service {
        self
    }
}
