"""voxlive on a Ray Serve cluster: the ``STT``, ``LLM`` and ``TTS`` stages as deployments of their own, and
``Gateway`` replicas serving the app with sessions whose stages are those deployments (``voxlive serve --ray``,
``serve run deploy/serve.yaml``). Needs the ``ray`` extra."""
