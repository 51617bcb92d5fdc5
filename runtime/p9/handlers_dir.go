package p9

// inDir runs fn on the File of directory fid num after checking name.
func (c *srvConn) inDir(num uint32, name string, fn func(File) (Message, error)) (Message, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	return c.onFile(num, false, fn)
}

func (c *srvConn) mkdir(m *Tmkdir) (Message, error) {
	return c.inDir(m.DirFID, m.Name, func(dir File) (Message, error) {
		qid, err := dir.Mkdir(m.Name, m.Mode, m.GID)
		return &Rmkdir{QID: qid}, err
	})
}

func (c *srvConn) symlink(m *Tsymlink) (Message, error) {
	return c.inDir(m.DirFID, m.Name, func(dir File) (Message, error) {
		qid, err := dir.Symlink(m.Target, m.Name, m.GID)
		return &Rsymlink{QID: qid}, err
	})
}

func (c *srvConn) mknod(m *Tmknod) (Message, error) {
	return c.inDir(m.DirFID, m.Name, func(dir File) (Message, error) {
		qid, err := dir.Mknod(m.Name, m.Mode, m.Major, m.Minor, m.GID)
		return &Rmknod{QID: qid}, err
	})
}

func (c *srvConn) unlinkat(m *Tunlinkat) (Message, error) {
	return c.inDir(m.DirFID, m.Name, func(dir File) (Message, error) {
		return &Runlinkat{}, dir.UnlinkAt(m.Name, m.Flags)
	})
}

// twoFiles runs fn on the Files of fids a and b.
func (c *srvConn) twoFiles(a, b uint32, fn func(fa, fb File) error) error {
	f1, f2, done, err := c.useTwo(a, b)
	if err != nil {
		return err
	}
	defer done()
	fa, err := f1.fileOf()
	if err != nil {
		return err
	}
	fb, err := f2.fileOf()
	if err != nil {
		return err
	}
	return fn(fa, fb)
}

func (c *srvConn) link(m *Tlink) (Message, error) {
	if err := checkName(m.Name); err != nil {
		return nil, err
	}
	err := c.twoFiles(m.DirFID, m.FID, func(dir, target File) error { return dir.Link(target, m.Name) })
	if err != nil {
		return nil, err
	}
	return &Rlink{}, nil
}

func (c *srvConn) renameat(m *Trenameat) (Message, error) {
	if err := checkName(m.OldName); err != nil {
		return nil, err
	}
	if err := checkName(m.NewName); err != nil {
		return nil, err
	}
	err := c.twoFiles(m.OldDirFID, m.NewDirFID, func(oldDir, newDir File) error {
		return oldDir.RenameAt(m.OldName, newDir, m.NewName)
	})
	if err != nil {
		return nil, err
	}
	return &Rrenameat{}, nil
}

func (c *srvConn) rename(m *Trename) (Message, error) {
	if err := checkName(m.Name); err != nil {
		return nil, err
	}
	err := c.twoFiles(m.FID, m.DirFID, func(file, dir File) error {
		r, ok := file.(Renamer)
		if !ok {
			return eopnotsupp
		}
		return r.Rename(dir, m.Name)
	})
	if err != nil {
		return nil, err
	}
	return &Rrename{}, nil
}

func (c *srvConn) readlink(m *Treadlink) (Message, error) {
	return c.onFile(m.FID, false, func(file File) (Message, error) {
		target, err := file.Readlink()
		if err == nil && headerSize+2+len(target) > int(c.negotiated()) {
			err = enametoolong
		}
		return &Rreadlink{Target: target}, err
	})
}
