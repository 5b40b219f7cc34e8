"""Adversarial validation: generic exploit agents, parameterised by what a task declares and by what its
reference solution does, that try to reach verified success without doing the job."""
