"""SparseFlow's Python side: the model builder, the float64 reference, the
safetensors reader and writer, and the torch.fx exporter.

    sparseflow.safetensors   write_safetensors / read_safetensors (NumPy)
    sparseflow.builder       ModelBuilder: model JSON + weights from Python
    sparseflow.reference     evaluate(model.json, inputs) in float64; each
                             op's shape rule
    sparseflow.export        export(torch module, example inputs, dir)
                             (imports torch when called)
    sparseflow.testing       the test models, the program runner, the
                             PyTorch test networks

Importing the package imports none of them (nor NumPy or torch); import the
module you need.  Run the scripts of the repository with PYTHONPATH=python
(the Makefile sets it).
"""
