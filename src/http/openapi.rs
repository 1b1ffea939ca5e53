//! The OpenAPI 3.1 document `GET /openapi.json` serves, derived with utoipa
//! from the handlers' `#[utoipa::path]` annotations and the request and
//! response types' `ToSchema` (docs/api.md). Nothing here is hand-written
//! JSON:
//!
//! - the paths come from the route table ([`routes::api`]), so a route and
//!   its documentation cannot drift apart;
//! - what every operation shares (the `Problem` answer, the cart answer and
//!   its `Cart-Token` and `Cart-Revision` headers, the two security
//!   schemes) is defined once below, and added by [`Shared`], the
//!   document's one [`Modify`].
//!
//! The document is rendered once per process and served as the same bytes.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use bytes::Bytes;
use utoipa::openapi::header::{Header, HeaderBuilder};
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, InfoBuilder, Object, OpenApi, OpenApiBuilder, Ref, RefOr, Schema};
use utoipa::{IntoResponses, Modify, PartialSchema, ToResponse, ToSchema};

use crate::http::cart_request::CART_REVISION_HEADER;
use crate::http::error::Problem;
use crate::http::routes::{self, Table, cart::Created};
use crate::http::transport::CART_TOKEN_HEADER;
use crate::http::view::CartView;

const DESCRIPTION: &str = "A shop cart sealed into a client-held token. Cookie transport (SPA): the HttpOnly cookie `__Host-cart` (`cart` when cookie.secure = false). Bearer transport (mobile): `Authorization: Bearer <token>` (an `Authorization` of another scheme, such as `Basic` from an auth proxy, is ignored and the cookie counts), answered with a `Cart-Token` header on every response that changes or re-seals the cart. A credential is optional: without one, GET /cart answers an empty cart and the first write starts one. Every error is application/problem+json with a stable `code`; a method a path does not list is 405 with an `Allow` header.";

/// The document as served, rendered on first use.
static JSON: LazyLock<Bytes> = LazyLock::new(|| {
    Bytes::from(serde_json::to_vec_pretty(&document()).expect("the document serializes"))
});

/// The bytes `GET /openapi.json` answers with, the same on every request.
pub fn json() -> Bytes {
    JSON.clone()
}

/// The document: every documented route of the table, with the demo page
/// (which a deployment may leave off), and what [`Shared`] adds.
pub fn document() -> OpenApi {
    let mut openapi = OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("cartseal")
                .version("1.0.0")
                .description(Some(DESCRIPTION))
                .build(),
        )
        .build();
    let mut table = Table::default();
    routes::api(&mut table, true);
    for add in table.entries().iter().filter_map(|entry| entry.document) {
        add(&mut openapi);
    }
    Shared.modify(&mut openapi);
    openapi
}

/// What the operations share, defined once: the schemas and the `Problem`
/// response they refer to, the security schemes, and a path's parameters
/// stated once on the path.
struct Shared;

impl Modify for Shared {
    fn modify(&self, openapi: &mut OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            hoist_parameters(item);
        }
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut schemas = vec![
            (CartView::name().into_owned(), CartView::schema()),
            (Problem::name().into_owned(), Problem::schema()),
        ];
        CartView::schemas(&mut schemas);
        Problem::schemas(&mut schemas);
        components.schemas.extend(schemas);
        let (name, problem) = ProblemAnswer::response();
        components.responses.insert(name.to_owned(), problem);
        components.security_schemes.insert(
            "bearer".into(),
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "Mobile clients: the token of POST /cart, then of each response's Cart-Token header.",
                    ))
                    .build(),
            ),
        );
        components.security_schemes.insert(
            "cookie".into(),
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "__Host-cart",
                "SPAs: the HttpOnly cookie the service sets (named cart when cookie.secure = false).",
            ))),
        );
    }
}

/// Moves the parameters that every operation of `item` declares alike (a
/// path parameter, each handler's annotation names) up to the path item,
/// where OpenAPI states them once for all its operations.
fn hoist_parameters(item: &mut PathItem) {
    let mut operations = [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.options,
        &mut item.head,
        &mut item.patch,
        &mut item.trace,
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<&mut Operation>>();
    let Some(first) = operations.first().and_then(|o| o.parameters.clone()) else {
        return;
    };
    if operations
        .iter()
        .all(|o| o.parameters.as_ref() == Some(&first))
    {
        for operation in &mut operations {
            operation.parameters = None;
        }
        item.parameters = Some(first);
    }
}

/// `Cart-Token`: the credential a bearer client keeps.
fn cart_token() -> Header {
    HeaderBuilder::new()
        .schema(String::schema())
        .description(Some(
            "The new token (bearer transport). Several answers in flight can each carry one: keep the token whose answer has the highest Cart-Revision (either on a tie).",
        ))
        .build()
}

/// `Cart-Revision`: the revision of the cart an answer shows.
fn cart_revision() -> Header {
    HeaderBuilder::new()
        .schema(ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0)))
        .description(Some(
            "The revision of the cart this answer shows, raised by every write and kept by a re-seal. A client that receives several credentials keeps the one whose answer has the highest revision.",
        ))
        .build()
}

/// A cart answer with its credential headers.
fn with_cart_headers(response: ResponseBuilder) -> ResponseBuilder {
    response
        .header(CART_TOKEN_HEADER, cart_token())
        .header(CART_REVISION_HEADER, cart_revision())
}

/// The answer of every cart endpoint: the cart, and its credential headers.
pub struct CartAnswer;

impl<'r> ToResponse<'r> for CartAnswer {
    fn response() -> (&'r str, RefOr<Response>) {
        let view = Ref::from_schema_name(CartView::name());
        ("CartAnswer", cart_response("The cart", view.into()))
    }
}

/// `POST /cart`'s answer: a fresh cart, its token, and its headers.
pub struct FreshCart;

impl<'r> ToResponse<'r> for FreshCart {
    fn response() -> (&'r str, RefOr<Response>) {
        let body = Created::schema();
        (
            "FreshCart",
            cart_response("A fresh cart and its token", body),
        )
    }
}

/// A JSON answer of `body`, with the cart's credential headers.
fn cart_response(description: &str, body: RefOr<Schema>) -> RefOr<Response> {
    let response = ResponseBuilder::new()
        .description(description)
        .content("application/json", Content::new(Some(body)));
    with_cart_headers(response).build().into()
}

/// Every error answer, `#/components/responses/Problem`.
pub struct ProblemAnswer;

impl<'r> ToResponse<'r> for ProblemAnswer {
    fn response() -> (&'r str, RefOr<Response>) {
        let response = ResponseBuilder::new()
            .description("An RFC 9457 problem")
            .content(
                "application/problem+json",
                Content::new(Some(Ref::from_schema_name(Problem::name()))),
            )
            .build();
        ("Problem", response.into())
    }
}

/// The answers of a write whose JSON body names lines of the cart (`POST
/// /cart/items`, `POST /cart/merge`): the cart, or a problem for each way
/// such a write can fail.
pub struct BodyWriteAnswers;

impl BodyWriteAnswers {
    /// Bad credential or request (400, 401, 403), slow body (408), a
    /// conflict (409), a body or cart too large (413), not JSON (415), a
    /// refused line (422), headers too large (431), the store down (503).
    const PROBLEMS: [u16; 10] = [400, 401, 403, 408, 409, 413, 415, 422, 431, 503];
}

impl IntoResponses for BodyWriteAnswers {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        let problem = Ref::from_response_name(ProblemAnswer::response().0);
        std::iter::once(("200".to_owned(), CartAnswer::response().1))
            .chain(
                Self::PROBLEMS
                    .iter()
                    .map(|status| (status.to_string(), problem.clone().into())),
            )
            .collect()
    }
}

/// The `properties` of a line as `POST /cart/items` takes them: at most 5,
/// names of 1 to 32 of `[A-Za-z0-9_-]`, values of at most 256 bytes.
pub fn line_properties() -> Object {
    let value = ObjectBuilder::new()
        .schema_type(Type::String)
        .max_length(Some(256))
        .description(Some(
            "At most 256 bytes of UTF-8, kept in Unicode NFC; control and format characters and line and paragraph separators are refused (422).",
        ));
    let name = ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some("^[A-Za-z0-9_-]{1,32}$"));
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .max_properties(Some(5))
        .additional_properties(Some(AdditionalProperties::RefOr(RefOr::T(Schema::Object(
            value.build(),
        )))))
        .property_names(Some(Schema::Object(name.build())))
        .build()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// The (path, method) pairs of the document, upper-case methods.
    fn operations(openapi: &serde_json::Value) -> BTreeSet<(String, String)> {
        let mut found = BTreeSet::new();
        for (path, item) in openapi["paths"].as_object().expect("paths") {
            for method in item.as_object().expect("a path item").keys() {
                if method != "parameters" {
                    found.insert((path.clone(), method.to_uppercase()));
                }
            }
        }
        found
    }

    /// A route added to the table without a document entry, or a document
    /// entry no route serves, fails here. Only static files stay out of it.
    #[test]
    fn the_document_lists_every_route_of_the_table_and_no_other() {
        let openapi: serde_json::Value = serde_json::from_slice(&json()).expect("JSON");
        let mut table = Table::default();
        routes::api(&mut table, true);
        let mut documented = BTreeSet::new();
        for entry in table.entries() {
            if entry.document.is_some() {
                documented.insert((entry.path.to_owned(), entry.method.as_str().to_owned()));
            } else {
                assert!(
                    entry.path.starts_with("/static/"),
                    "{} {} is in the route table but not in the document",
                    entry.method,
                    entry.path
                );
            }
        }
        assert_eq!(operations(&openapi), documented);
        assert_eq!(openapi["openapi"], "3.1.0");
    }

    /// What every client relies on: the shared answers, headers and
    /// security schemes are where the operations point.
    #[test]
    fn the_shared_parts_are_in_the_document() {
        let openapi: serde_json::Value = serde_json::from_slice(&json()).expect("JSON");
        let components = &openapi["components"];
        for schema in ["CartView", "Problem", "AddItem", "Product"] {
            assert!(components["schemas"][schema].is_object(), "{schema}");
        }
        assert!(
            components["responses"]["Problem"]["content"]["application/problem+json"].is_object()
        );
        assert_eq!(components["securitySchemes"]["bearer"]["scheme"], "bearer");
        assert_eq!(
            components["securitySchemes"]["cookie"]["name"],
            "__Host-cart"
        );
        let read = &openapi["paths"]["/cart"]["get"];
        let headers = &read["responses"]["200"]["headers"];
        assert!(headers["Cart-Token"]["description"].is_string());
        assert_eq!(headers["Cart-Revision"]["schema"]["minimum"], 0);
        assert_eq!(
            read["responses"]["503"]["$ref"],
            "#/components/responses/Problem"
        );
        assert_eq!(
            read["security"],
            serde_json::json!([{}, {"bearer": []}, {"cookie": []}])
        );
        let line = &openapi["paths"]["/cart/items/{line}"];
        assert_eq!(line["parameters"][0]["name"], "line");
        assert!(line["patch"]["parameters"].is_null());
    }

    #[test]
    fn the_document_is_rendered_once() {
        assert_eq!(json().as_ptr(), json().as_ptr());
    }
}
