//! `GET /products`: the catalog, for shop pages.

use actix_web::{HttpResponse, web};

use crate::catalog::Product;
use crate::http::state::AppState;

/// The catalog's products; an empty list when no catalog is configured.
#[utoipa::path(get, path = "/products", summary = "The catalog (empty without one)",
    responses((status = 200, description = "Products", body = Vec<Product>)))]
pub async fn list(state: web::Data<AppState>) -> HttpResponse {
    let catalog = state.catalog.load();
    let products = catalog.as_deref().map(|c| c.products()).unwrap_or_default();
    HttpResponse::Ok().json(products)
}
