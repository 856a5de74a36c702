/** Entry point: argv -> command -> exit code. */
if (import.meta.main) {
  console.log("clustd: not implemented yet");
}
