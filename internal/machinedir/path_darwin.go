package machinedir

func defaultPath() string { return "/Library/Application Support/OrionBridge" }
