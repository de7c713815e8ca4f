/// A condition that becomes true once (a listener bound, a reader started), for `/ready`.
actor ReadinessFlag {
    private(set) var isSet = false

    func set() {
        self.isSet = true
    }
}
