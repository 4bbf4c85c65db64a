{
  "targets": [
    {
      "target_name": "ddplab_pcap_port",
      "sources": ["pcap_port.c"],
      "libraries": ["-lpcap"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
