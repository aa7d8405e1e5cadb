"""Reading and writing what the field uses: micrographs and particle coordinates."""
