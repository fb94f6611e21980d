/** Entry point of the bbblb binary: parses argv, runs one subcommand, exits with its status. */
console.log("bbblb");
