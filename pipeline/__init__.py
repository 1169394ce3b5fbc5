"""The stages that make data and models: topic graph, sample generation, training, evaluation."""
