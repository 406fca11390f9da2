//! The authenticator as the services use it: JWKS files and URLs, their refresh, the
//! verdict cache, and the middleware.

mod cli;
mod jwks_file;
mod jwks_url;
mod middleware;
mod support;
