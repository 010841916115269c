{
  "targets": [
    {
      "target_name": "dirtytrack",
      "sources": [
        "src/native/dirtytrack.c",
        "src/native/napi-util.c",
        "src/native/pagemap-scan.c",
        "src/native/pagemap-walk.c",
        "src/native/pagemap-read.c",
        "src/native/buffer-address.c",
        "src/native/uffd.c",
        "src/native/pidfd.c",
        "src/native/inject.c"
      ],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Werror=implicit-function-declaration", "-O2"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
