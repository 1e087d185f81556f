//! Embed the same model as the boards (`PICOSPIKE_MODEL_DIR`, default `../models/demo`).
fn main() {
    picospike_board_build::model();
}
