//! `GET /display`: the page a screen opens. It shows a code to pair it (Admin › Displays),
//! then what it was given; see `web/viewer/display.js`. It needs no session and sets no cookie.

use axum::http::header;
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, html};

pub async fn page() -> Response {
    let body = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "Vitrine display" }
                link rel="stylesheet" href="/assets/viewer/display.css";
                script type="module" src="/assets/viewer/display.js" {}
            }
            body {
                main #display .display data-state="connecting" {
                    section #pairing .pairing hidden {
                        h1 { "Pair this screen" }
                        div #code .pairing-code aria-live="polite" { "……" }
                        p { "In Vitrine, open Admin › Displays and enter this code." }
                        p.muted { "It changes every ten minutes. Nothing needs typing here." }
                    }
                    section #screen .screen hidden {}
                    noscript { p { "This page needs JavaScript." } }
                }
            }
        }
    };
    ([(header::CACHE_CONTROL, "no-store")], body).into_response()
}
