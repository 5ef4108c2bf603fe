//! Prints the simulator's GraphQL schema (SDL) to stdout, for client code generation:
//! `cargo run -p weft-sim-shopify --example print_sdl > schema.graphql`.

fn main() {
    let sim = weft_sim_shopify::ShopifySim::new(weft_sim_shopify::SimConfig::default());
    print!("{}", sim.sdl());
}
