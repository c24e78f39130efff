//! `vitrine-azure-standin --listen ADDR`: Entra ID, Power BI and Azure Resource Manager for
//! tests, under one address.

use std::sync::Arc;

use clap::Parser;

#[derive(Parser)]
#[command(about = "A stand-in for Entra ID, Power BI and Azure Resource Manager, for tests")]
struct Args {
    /// Where to listen, e.g. 127.0.0.1:0 (the address taken is printed).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: String,
    /// Accept only this client secret (by default any non-empty one).
    #[arg(long)]
    client_secret: Option<String>,
    /// Seconds a capacity takes to pause or resume.
    #[arg(long, default_value_t = 3)]
    transition_seconds: i64,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let settings = vitrine_azure_standin::Settings {
        client_secret: args.client_secret,
        transition: chrono::Duration::seconds(args.transition_seconds.max(0)),
        ..Default::default()
    };
    let listener = tokio::net::TcpListener::bind(&args.listen).await?;
    println!("listening on http://{}", listener.local_addr()?);
    let world = Arc::new(vitrine_azure_standin::World::demo(settings));
    vitrine_azure_standin::serve(listener, world).await
}
