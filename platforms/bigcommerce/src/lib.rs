//! BigCommerce (stub).
