"""Built-in tool sets. Each module is plain, standard-library-only Python that runs inside the
WebAssembly sandbox (compiled into the tool component); its public functions are the tools.
They keep state as files under the session's scratch dir (`/scratch` in the sandbox)."""
